"""Calculator formulas over series (spec §1.4): letters, numbers, ``+ - * /`` and parentheses.

Evaluated point by point; a missing value counts as 0, and a division by 0 gives ``None``.
"""

from __future__ import annotations

import ast

from fermion.errors import BadRequest


def check(expression: str, letters: set[str]) -> ast.Expression:
    """The parsed formula; ``BadRequest`` names what is not allowed."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise BadRequest(f"formulas: cannot parse {expression!r}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in letters:
            raise BadRequest(f"formulas: unknown series {node.id!r} in {expression!r}")
        if not isinstance(
            node,
            ast.Expression
            | ast.BinOp
            | ast.UnaryOp
            | ast.Constant
            | ast.Name
            | ast.Load
            | ast.operator
            | ast.unaryop,
        ) or (
            isinstance(node, ast.operator) and not isinstance(node, ast.Add | ast.Sub | ast.Mult | ast.Div)
        ):
            raise BadRequest(f"formulas: only series letters, numbers, + - * / ( ) in {expression!r}")
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise BadRequest(f"formulas: only numbers as constants in {expression!r}")
    return tree


def evaluate(expression: str, values: dict[str, float | None]) -> float | None:
    """The formula's value for one point."""
    tree = check(expression, set(values))

    def walk(node: ast.AST) -> float | None:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, int | float)
            return float(node.value)
        if isinstance(node, ast.Name):
            return values[node.id] or 0.0
        if isinstance(node, ast.UnaryOp):
            inner = walk(node.operand)
            return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
        assert isinstance(node, ast.BinOp)
        left, right = walk(node.left), walk(node.right)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        return None if right == 0 else left / right

    return walk(tree)
