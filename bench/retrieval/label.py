#!/usr/bin/env python3
"""Turns a draft (question|path|symbol per line, written from reading the code) into a labelled
set: each question gets the line range of the definition it is about, found in the codebase.

usage: label.py DRAFT ROOT > SET.jsonl

Python definitions are found with ast (qualified names: Class.method); C, C++, JavaScript and
TypeScript ones by the line that introduces the name (a function header, a prototype
assignment, a class member, an exported type). The end line is where the next line with the
same or less indentation starts (the closing brace or the next definition). "named" says
whether the question spells the symbol's bare name."""
import ast
import json
import re
import sys


def python_range(text, symbol):
    tree = ast.parse(text)
    parts = symbol.split(".")

    def find(body, parts):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and \
                    node.name == parts[0]:
                if len(parts) == 1:
                    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                    return start, node.end_lineno
                return find(node.body, parts[1:])
        return None
    return find(tree.body, parts)


def brace_range(lines, symbol):
    name = symbol.split(".")[-1] if "::" not in symbol else symbol
    if symbol.startswith("Tree.prototype") or ".prototype" in symbol:
        pat = re.compile(r"^" + re.escape(symbol) + r"\s*=")
    else:
        esc = re.escape(name)
        pat = re.compile(r"^\s*((export|static|inline|const|async|get|set|type|interface|class|"
                         r"function)\s+)*[\w:<>*&\s]*?(?<![\w:])" + esc +
                         r"\s*(\(|=|<|\{|:\s*\{)(?!.*;\s*$)")
    func = re.compile(r"^\s*(export\s+)?(async\s+)?function\s*\*?\s*" + re.escape(name) + r"\b")
    order = [i for i, l in enumerate(lines) if func.search(l)] + list(range(len(lines)))
    for i in order:
        line = lines[i]
        if pat.search(line) or func.search(line) and not line.lstrip().startswith(("//", "*", "return", "if")):
            indent = len(line) - len(line.lstrip())
            for j in range(i + 1, len(lines)):
                s = lines[j]
                t = s.strip()
                if t and len(s) - len(s.lstrip()) <= indent and \
                        (t[0] == "}" or (t[0] == ")" and t.endswith(";"))):
                    return i + 1, j + 1
            return i + 1, i + 1
    return None


def main():
    draft, root = sys.argv[1], sys.argv[2]
    for raw in open(draft):
        if not raw.strip():
            continue
        q, path, symbol = raw.rstrip("\n").split("|")
        text = open(f"{root}/{path}", encoding="utf-8").read()
        rng = python_range(text, symbol) if path.endswith(".py") else \
            brace_range(text.split("\n"), symbol)
        if not rng:
            sys.exit(f"not found: {path} {symbol}")
        bare = re.split(r"\.|::", symbol)[-1]
        named = re.search(r"(?<![\w])" + re.escape(bare) + r"(?![\w])", q) is not None
        print(json.dumps({"q": q, "path": path, "symbol": symbol, "start": rng[0],
                          "end": rng[1], "named": named}))


if __name__ == "__main__":
    main()
