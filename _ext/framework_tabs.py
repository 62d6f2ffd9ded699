"""Framework tabs: each PyTorch/TensorFlow pair of notebook cells becomes one tab set.

The notebooks stay ordinary notebooks (Colab and nbval see two cells). At build time, every
run of adjacent code cells tagged ``pytorch`` / ``tensorflow`` (MyST-NB marks each cell's
container with a ``tag_<name>`` class) that holds both frameworks becomes one tab set: the
PyTorch tab holds the run's PyTorch cells in order, the TensorFlow tab its TensorFlow cells
(a run is usually one pair; "P P T T" and "P T P T" are two steps in each framework). The
nodes are those that sphinx-design's ``{tab-set}`` / ``{tab-item}`` directives produce, in
the sync group ``framework``. So choosing
a framework switches every pair on the page, sphinx-design stores the choice in the
browser (``sd_tabs_storage_prefix`` + ``framework``), and every other page opens on it. Prose
that differs between frameworks can join the same group with ``:sync-group: framework``.
A framework cell with no neighbour of the other framework stays as it is.
"""
from docutils import nodes
from sphinx_design.shared import create_component

FRAMEWORKS = {"tag_pytorch": ("pytorch", "PyTorch"), "tag_tensorflow": ("tensorflow", "TensorFlow")}
SYNC_GROUP = "framework"


def framework_of(node):
    """``"tag_pytorch"`` or ``"tag_tensorflow"`` for a tagged code cell, else None."""
    if not isinstance(node, nodes.container) or "cell" not in node["classes"]:
        return None
    tags = [c for c in node["classes"] if c in FRAMEWORKS]
    return tags[0] if len(tags) == 1 else None


def paired_runs(children):
    """Maximal runs of adjacent framework cells that hold both frameworks."""
    runs, run = [], []
    for child in [*children, None]:
        if child is not None and framework_of(child):
            run.append(child)
            continue
        if len({framework_of(cell) for cell in run}) == len(FRAMEWORKS):
            runs.append(run)
        run = []
    return runs


def tab_set(cells):
    """The nodes of ``{tab-set}``: one ``{tab-item}`` per framework, synced by framework."""
    tabs = create_component("tab-set", classes=["sd-tab-set", "framework-tabs"])
    for tag, (sync_id, label) in FRAMEWORKS.items():
        item = create_component("tab-item", classes=["sd-tab-item"], selected=False)
        item += nodes.rubric(label, label, classes=["sd-tab-label"], sync_id=sync_id,
                             sync_group=SYNC_GROUP)
        content = create_component("tab-content", classes=["sd-tab-content"])
        content.extend(cell for cell in cells if framework_of(cell) == tag)
        item += content
        tabs += item
    return tabs


def wrap_framework_pairs(app, doctree):
    """Replace every run of paired framework cells in the document by a tab set."""
    parents = {cell.parent for cell in doctree.findall(nodes.container) if framework_of(cell)}
    for parent in parents:
        for run in paired_runs(parent.children):
            index = parent.index(run[0])
            for cell in run:
                parent.remove(cell)
            parent.insert(index, tab_set(run))


def setup(app):
    app.connect("doctree-read", wrap_framework_pairs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
