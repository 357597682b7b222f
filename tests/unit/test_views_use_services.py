"""Views reach data only through services (issue #15 item 3).

The import contracts (``make lint``) keep ``app.models.database``, the ORM and SQLAlchemy
out of ``app/views``; this catches what an import check cannot see: a view reaching the
database through the context (``context.database.run(...)``) or building a repository
or query object itself, which would put blocking work within reach of the GUI thread.
"""

import ast
from pathlib import Path

VIEWS = Path(__file__).resolve().parents[2] / "app" / "views"


def offences(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ("database", "repository"):
            found.append(f"line {node.lineno}: .{node.attr}")
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else None
            name = node.func.id if isinstance(node.func, ast.Name) else name
            if name and name.endswith(("Repository", "Queries", "Store")):
                found.append(f"line {node.lineno}: {name}(...)")
    return found


def test_no_view_reaches_the_database_or_builds_a_repository():
    found = {
        path.relative_to(VIEWS).as_posix(): problems
        for path in sorted(VIEWS.rglob("*.py"))
        if (problems := offences(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_the_check_sees_both_kinds_of_offence():
    code = "async def f(ctx):\n    await ctx.database.run(VehicleRepository(ctx).rows)\n"
    assert offences(code) == ["line 2: .database", "line 2: VehicleRepository(...)"]
