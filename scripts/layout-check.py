#!/usr/bin/env python3
"""Checks the layout rules of ARCHITECTURE.md on every crate's `src/`:

1. no file holds more than 500 lines of code (blank lines, comments and tests excluded:
   `#[cfg(test)]` modules and `tests.rs` files do not count);
2. no file-level import circle inside a crate (file A imports from file B and B, directly or
   through others, from A), counting `use crate::..`, `use super::..` and `use self::..` paths.

Prints the largest files and any circle; exits 1 when a rule is broken.

    scripts/layout-check.py [--top N]
"""
import os
import re
import sys

LIMIT = 500
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates")


def code_lines(text):
    """Lines of code outside `#[cfg(test)]` items, comments and blank lines."""
    lines = text.splitlines()
    count, i, n = 0, 0, len(lines)
    while i < n:
        s = lines[i].strip()
        if s.startswith("#[cfg(test)]"):
            # Skip the attribute's item: up to its matching closing brace (or `;`).
            depth, started = 0, False
            i += 1
            while i < n:
                t = lines[i]
                depth += t.count("{") - t.count("}")
                started |= "{" in t
                if (started and depth <= 0) or (not started and t.strip().endswith(";")):
                    break
                i += 1
            i += 1
            continue
        if s and not s.startswith("//"):
            count += 1
        i += 1
    return count


def module_files(src):
    """Maps a module path (tuple) to its file, for every .rs file under `src`."""
    files = {}
    for dirpath, _, names in os.walk(src):
        for name in names:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, src)[:-3].split(os.sep)
            if rel in (["lib"], ["main"]):
                mod = ()
            elif rel[-1] == "mod":
                mod = tuple(rel[:-1])
            else:
                mod = tuple(rel)
            files[mod] = path
    return files


def imports(mod, text, files):
    """The modules (with a file) that `mod`'s file imports from."""
    out = set()
    # Re-exports (`pub use`) are a module's facade, not a dependency of its code.
    for m in re.finditer(r"(?<!pub )(?<!pub\(crate\) )\buse\s+([^;]+);", text):
        for path in expand(m.group(1)):
            parts = path.split("::")
            base = list(mod)
            if parts[0] == "crate":
                base, parts = [], parts[1:]
            elif parts[0] == "self":
                parts = parts[1:]
            while parts and parts[0] == "super":
                base = base[:-1]
                parts = parts[1:]
            if path.split("::")[0] not in ("crate", "super", "self"):
                continue
            full = base + parts
            # The longest prefix that is a file is the module imported from.
            for k in range(len(full), -1, -1):
                target = tuple(full[:k])
                if target in files:
                    if target != mod:
                        out.add(target)
                    break
    return out


def expand(tree):
    """`a::{b, c::{d, e}}` -> [`a::b`, `a::c::d`, `a::c::e`]."""
    tree = re.sub(r"\s+", "", tree)
    m = re.match(r"^(.*?)::\{(.*)\}$", tree)
    if not m:
        return [re.sub(r"as\w+$", "", tree)]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    if cur:
        parts.append(cur)
    out = []
    for p in parts:
        if p == "self":
            out.append(prefix)
        else:
            out.extend(expand(prefix + "::" + p))
    return out


def strip_tests(text):
    keep, skip, depth = [], False, 0
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip().startswith("#[cfg(test)]"):
            j, depth, started = i + 1, 0, False
            while j < len(lines):
                depth += lines[j].count("{") - lines[j].count("}")
                started |= "{" in lines[j]
                if (started and depth <= 0) or (not started and lines[j].strip().endswith(";")):
                    break
                j += 1
            i = j + 1
            continue
        keep.append(lines[i])
        i += 1
    return "\n".join(keep)


def cycles(graph):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main():
    top = 10
    if "--top" in sys.argv:
        top = int(sys.argv[sys.argv.index("--top") + 1])
    sizes, broken = [], False
    for crate in sorted(os.listdir(ROOT)):
        src = os.path.join(ROOT, crate, "src")
        if not os.path.isdir(src):
            continue
        files = module_files(src)
        graph = {}
        for mod, path in files.items():
            text = open(path, encoding="utf-8").read()
            is_test = path.endswith("tests.rs") or "/tests/" in path
            if not is_test:
                sizes.append((code_lines(text), os.path.relpath(path, os.path.join(ROOT, ".."))))
                graph[mod] = imports(mod, strip_tests(text), files)
        for comp in cycles(graph):
            broken = True
            names = ", ".join(os.path.relpath(files[m], ROOT) for m in comp)
            print(f"import circle in {crate}: {names}")
    sizes.sort(reverse=True)
    print(f"largest files (lines of code, tests aside; limit {LIMIT}):")
    for n, path in sizes[:top]:
        print(f"  {n:5}  {path}")
    over = [s for s in sizes if s[0] > LIMIT]
    if over:
        broken = True
        print(f"{len(over)} file(s) over {LIMIT} lines of code")
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
