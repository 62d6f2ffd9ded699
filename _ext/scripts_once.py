"""Each page script once: sphinx-thebe's inline ``const THEBE_JS_URL`` appears twice.

sphinx-thebe 0.3.1 (pulled in by Jupyter Book 1) adds an inline script that declares
``const THEBE_JS_URL``; every page ends up with it twice, and the second copy raises
"Identifier 'THEBE_JS_URL' has already been declared" in the browser console. This drops
exact repeats from each page's script list, so the console stays clean and a real error
stands out (tests/browser checks that there is none).
"""


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    """Keep the first of scripts with the same file and attributes (an inline body is one)."""
    seen, kept = set(), []
    for script in context.get("script_files", []):
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        if key not in seen:  # an inline copy's file name is "" or None: the same script
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
