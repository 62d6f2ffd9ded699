"""Devices, parameter counts and FLOP counts in PyTorch."""
import torch
from torch.utils.flop_counter import FlopCounterMode


def device():
    """The device the book's PyTorch code runs on: the first GPU if there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def devices():
    """Descriptions of the devices PyTorch can use."""
    found = ["cpu"]
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        found.append(f"cuda:{i} {props.name} ({props.total_memory / 2**30:.0f} GiB)")
    return found


def count_params(model, trainable_only=False):
    """Number of parameters of a ``torch.nn.Module``; shared (tied) tensors count once."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(fn, *args, by_op=False):
    """FLOPs that PyTorch's ``FlopCounterMode`` counts while ``fn(*args)`` runs.

    Returns the total, or with ``by_op=True`` a dict ``{aten operation: FLOPs}``, largest first,
    keyed by the operation's name as PyTorch prints it (``"aten.mm"``, ``"aten.addmm"``,
    ``"aten.bmm"``); the total is the sum of that dict.

    What is counted: matrix multiplies (``mm``, ``addmm``, ``bmm``, ``baddbmm``, ...),
    convolutions and the fused attention kernels, at 2 FLOPs per multiply-accumulate, as they
    execute, so backward passes are included if ``fn`` calls ``backward``. What is not:
    element-wise operations and reductions (bias additions outside ``addmm``, activations,
    softmax, normalization, the optimizer's update), which count 0.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    with FlopCounterMode(display=False) as counter:
        fn(*args)
    counts = {str(op): int(n) for op, n in counter.get_flop_counts()["Global"].items()}
    if not by_op:
        return sum(counts.values())
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
