"""FreeSWITCH's variable expander, character for character, so that the simulator expands an
application's argument exactly where and as FreeSWITCH does.

A port of `switch_channel_expand_variables_check` (src/switch_channel.c, FreeSWITCH 1.11) with
its two gates, `switch_string_var_check_const` and `switch_string_has_escaped_data`
(src/include/switch_utils.h). FreeSWITCH runs it on every application argument before the
application starts (`switch_core_session_exec`), and `set`, `multiset` and `export`
(mod_dptools' base_set) run it again on each value. What it does:

- `${name}` and `$${name}` become the variable's value, itself expanded again (recursively);
  `${name:offset:length}` and `${name[index]}` cut it; an unknown variable becomes nothing.
- `${api args}` and `${api(args)}` run an API command (`system`, `expr`, ...) and become its
  output: this is how a caller ID name could run a shell command.
- Escapes: `\\$` (and `\\$$`) gives a plain `$`, `\\'` is dropped, `\\\\` gives one `\\`; any
  other backslash stays. Dropping `\\'` is what turns `$\\'{` into `${` for the second pass.
- The character right after a closing `}` is copied as it is (unless it is a `$`).
"""

from __future__ import annotations

from collections.abc import Callable

Lookup = Callable[[str], "str | None"]
Api = Callable[[str, str], str]

MAX_DEPTH = 100


def needs_expansion(text: str) -> bool:
    """The expander's gate: a `$` followed (after any backslashes) by `{`, or escaped data
    (a backslash before another backslash, `n`, `s`, `t` or a quote)."""
    return _has_variable(text) or _has_escaped_data(text)


def _has_variable(text: str) -> bool:
    dollar = False
    for ch in text:
        if ch == "$":
            dollar = True
        elif dollar:
            if ch == "{":
                return True
            if ch != "\\":
                dollar = False
    return False


def _has_escaped_data(text: str) -> bool:
    index = text.find("\\")
    while index != -1 and index + 1 < len(text):
        if text[index + 1] in "\\nst'":
            return True
        index = text.find("\\", index + 1)
    return False


def expand(text: str, lookup: Lookup, api: Api, depth: int = 0) -> str:
    """The text as FreeSWITCH expands it once on a channel whose variables `lookup` reads;
    `api(command, argument)` runs (and may record) an API command and returns its output."""
    if depth > MAX_DEPTH or not text or not needs_expansion(text):
        return text
    return _Expansion(text, lookup, api, depth).run()


class _Expansion:
    """One pass over one string, as the C loop walks it."""

    def __init__(self, text: str, lookup: Lookup, api: Api, depth: int) -> None:
        self.s, self.lookup, self.api, self.depth = text, lookup, api, depth
        self.out: list[str] = []

    def at(self, index: int) -> str:
        return self.s[index] if 0 <= index < len(self.s) else ""

    def run(self) -> str:
        p, literal = 0, False
        while p < len(self.s):
            p, literal, done = self.escape(p)
            if done:
                continue
            kind = 0
            if self.at(p) == "$" and not literal:
                is_global = self.at(p + 1) == "$"
                if is_global:
                    p += 1
                if self.at(p + 1) == "{":
                    kind = 3 if is_global else 1
                else:
                    literal = True
            if literal:
                self.out.append(self.at(p))
                literal = False
                p += 1
                continue
            if kind:
                p = self.substitute(p)
            if p >= len(self.s):
                break
            if self.at(p) != "$":  # a `$` right after `}` starts the next round
                self.out.append(self.at(p))
                p += 1
        return "".join(self.out)

    def escape(self, p: int) -> tuple[int, bool, bool]:
        """A backslash at p: `\\$` makes the `$` (of `$` or `$$`) plain, `\\'` is dropped,
        `\\\\` is one backslash. Returns where to go on, whether the next character is plain,
        and whether this position is done with."""
        if self.at(p) != "\\":
            return p, False, False
        following = self.at(p + 1)
        if following == "$":
            p += 1
            if self.at(p + 1) == "$":
                p += 1
            return p, True, False
        if following == "'":
            return p + 2, False, True
        if following == "\\":
            self.out.append("\\")
            return p + 2, False, True
        return p, False, False

    def substitute(self, p: int) -> int:
        """Expand the `${...}` whose `$` is at p; return where the copy goes on."""
        start = p + 2
        end, depth, close = start, 1, len(self.s)
        while end < len(self.s):
            ch = self.s[end]
            if depth == 1 and ch == "}":
                close, depth = end, 0
                end += 1
                break
            if depth > 0:
                if end != start and ch == "{":
                    depth += 1
                elif depth > 1 and ch == "}":
                    depth -= 1
            end += 1
        name = self.s[start:close]
        self.out.append(self.value(name, depth))
        return end

    def value(self, name: str, depth: int) -> str:
        for index, ch in enumerate(name):
            if ch in " (":
                return self.call(name[:index].rstrip(" "), name[index + 1:], 1 if ch == "(" else depth)
        return self.variable(name)

    def call(self, command: str, argument: str, depth: int) -> str:
        """`${command(argument)}` / `${command argument}`: the argument ends at the `)` that
        closes the first `(`."""
        for index, ch in enumerate(argument):
            if ch == "(":
                depth += 1
            elif depth > 1 and ch == ")":
                depth -= 1
            elif depth == 1 and ch == ")":
                argument = argument[:index]
                break
        command = expand(command, self.lookup, self.api, self.depth + 1)
        argument = expand(argument, self.lookup, self.api, self.depth + 1)
        return self.api(command, argument)

    def variable(self, name: str) -> str:
        name = expand(name, self.lookup, self.api, self.depth + 1)
        offset, length, index = 0, 0, -1
        if ":" in name:
            name, _, cut = name.partition(":")
            first, _, second = cut.partition(":")
            offset, length = _atoi(first), _atoi(second)
        if "[" in name and "]" in name[name.index("["):]:
            name, _, rest = name.partition("[")
            index = _atoi(rest)
        found = self.lookup(name) if index < 0 else None
        if found is None:
            return ""
        found = expand(found, self.lookup, self.api, self.depth + 1)
        if offset >= 0 or -offset <= len(found):
            found = found[offset:]
        if 0 < length < len(found):
            found = found[:length]
        return found


def _atoi(text: str) -> int:
    """C's atoi: leading blanks, a sign, then digits; anything else ends it."""
    text = text.lstrip(" \t")
    sign, digits = 1, ""
    if text[:1] in "+-" and text:
        sign, text = (-1 if text[0] == "-" else 1), text[1:]
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else 0
