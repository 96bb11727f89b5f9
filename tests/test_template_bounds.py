"""Templates are tenant input: each hostile one below is refused within a bounded time and memory,
by the renderer the API and the mail sender share, and leaves nothing in its cache; ordinary
templates render as plain Jinja2 renders them."""

import gc
import time
import tracemalloc

import pytest
from jinja2 import ChainableUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from controller.notify.render import MAX_SOURCE, MAX_TOKENS, Renderer, TemplateError, TemplateTimeError

BIG = "{% set b = 'x' * 500000 %}"
HOSTILE = {
    "power folded at compile time (12.8 s before)": "{{ 3**(3*10**7) % 10 }}",
    "a 100 MB string": "{{ 'a' * 10**8 }}",
    "a power too big to print (a 500 before)": "{{ 3**(10**5) }}",
    "a filter folded at compile time": "{{ 'a'|center(1000000000) }}",
    "an autoescape value folded at compile time": "{% autoescape 'a'|center(999999999) %}x{% endautoescape %}",
    "a str method": "{{ 'abc'.center(999999999) }}",
    "zfill": "{{ '1'.zfill(10**9) }}",
    "replace on a method": "{{ ('a' * 1000).replace('a', 'b' * 1000) }}",
    "translate": "{{ ('x' * 1000).translate({120: 'y' * 100000}) }}",
    "tilde": "{{ ('a' * 500000) ~ ('a' * 500000) }}",
    "string doubling in a loop": "{% set ns = namespace(s='a') %}{% for i in range(40) %}"
                                 "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "plus doubling in a loop": "{% set ns = namespace(s='a') %}{% for i in range(40) %}"
                               "{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "integer squaring in a loop": "{% set ns = namespace(x=3) %}{% for i in range(40) %}"
                                  "{% set ns.x = ns.x * ns.x %}{% endfor %}",
    "a list of big strings printed": BIG + "{{ [b] * 100000 }}",
    "a list literal of big strings": "{% set b = 'x' * 50000 %}{{ [" + "b," * 30 + "] }}",
    "a list of big strings joined": BIG + "{{ ([b] * 2)|join }}",
    "join with a big separator": BIG + "{{ range(1000)|join(b) }}",
    "list concatenation": "{% set l = range(90000)|list %}{{ (l + l)|length }}",
    "percent width": "{{ '%0999999999d' % 1 }}",
    "bytes percent width": "{{ '%0999999999d'.encode() % 1 }}",
    "bytes method": "{{ 'a'.encode().ljust(10**9) }}",
    "percent star width": "{{ '%*d' % (999999999, 1) }}",
    "percent repeated key": BIG + "{{ '%(a)s%(a)s' % {'a': b} }}",
    "format filter width": "{{ '%0999999999d'|format(1) }}",
    "str.format width": "{{ '{:>999999999}'.format(1) }}",
    "str.format repeated field": "{{ '" + "{0}" * 16 + "'.format('x' * 100000) }}",
    "format_map": "{{ '{a:>999999999}'.format_map({'a': 1}) }}",
    "macro doubling": "{% macro m(s) %}{{ s }}{{ s }}{% endmacro %}{{ " + "m(" * 26 + "'x'" + ")" * 26 + " }}",
    "a block set doubling": "{% set ns = namespace(s='a' * 1000) %}{% for i in range(30) %}"
                            "{% set ns.s %}{{ ns.s }}{{ ns.s }}{% endset %}{% endfor %}",
    "replace filter": "{{ ('a' * 1000)|replace('a', 'a' * 1000) }}",
    "indent": "{{ ('\\n' * 100000)|indent(100000) }}",
    "wordwrap": "{{ ('a ' * 100000)|wordwrap(1, wrapstring='x' * 1000) }}",
    "batch fill": "{{ [1]|batch(1000000000, 'x')|list }}",
    "slice": "{{ [1]|slice(1000000000)|list }}",
    "tojson indent": "{{ range(10)|list|tojson(indent=100000) }}",
    "sum of lists": "{{ ([range(1000)|list] * 1000)|sum(start=[]) }}",
    "lipsum": "{{ lipsum(100000) }}",
    "range": "{{ range(10**9)|length }}",
    "output past its limit": "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}",
    "a literal too long for int()": "{{ " + "9" * 5000 + " }}",
    "nesting too deep to parse": "{{ " + "(" * 500 + "1" + ")" * 500 + " }}",
    "too many tokens": "{{ a }}" * (MAX_TOKENS // 3 + 1),
    "too long": "x" * (MAX_SOURCE + 1),
    "a loop past the time limit": "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
}
ORDINARY = [
    "{{ 2 ** 10 }} {{ 7 // 2 }} {{ 7 / 2 }} {{ 7 % 3 }} {{ -3 + 1 }} {{ 1.5 * 2 }}",
    "{{ 'ab' * 3 }} {{ [1, 2] + [3] }} {{ (1, 2) * 2 }} {{ 'q' ~ 1 ~ none }}",
    "{{ '%5.2f|%-4s|%(x)s' % 3.14159 if false else '%5.2f|%-4s' % (3.14159, 'a') }}",
    "{{ '{:>6}|{0!r}'.format('r') if false else '{:>6}|{:03d}'.format('r', 7) }} {{ '{a}'.format_map({'a': 1}) }}",
    "{{ 'a b'|replace(' ', '_') }} {{ [1, 2, 3]|join(',') }} {{ [1, 2]|sum }} {{ 'x'|center(9) }}",
    "{{ 'line\\nnext'|indent(2, true) }} {{ 'a b c d'|wordwrap(3) }} {{ '%03d'|format(5) }}",
    "{{ [1, 2, 3, 4]|batch(3, 0)|list }} {{ [1, 2, 3]|slice(2)|list }} {{ {'a': [1]}|tojson(2) }}",
    "{{ user.name|upper }} {{ user.missing.deeper|default('none') }} {{ 'x'.rjust(4, '.') }}"
    " {{ 'a\tb'.expandtabs(2) }}",
    "{% macro m(s) %}[{{ s }}]{% endmacro %}{{ m(m('x')) }} {% set ns = namespace(n=0) %}"
    "{% for i in range(5) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }} {{ ','.join(['a', 'b']) }}",
]


def refused(renderer: Renderer, source: str) -> bool:
    try:
        renderer.render(source, {})
    except TemplateError:
        return True  # the exception (and the frames it holds) dropped here
    return False


@pytest.fixture
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.timeout(20)
@pytest.mark.parametrize("source", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_template_is_refused_quickly_and_not_kept(renderer: Renderer, source: str) -> None:
    for html in (False, True):
        started = time.monotonic()
        with pytest.raises(TemplateError) as refused:
            renderer.render(source, {}, html=html)
        assert time.monotonic() - started < 2.0, refused.value
        assert (source, html) not in renderer and len(renderer) == 0 and renderer.cached_bytes == 0


def test_each_refusal_says_why(renderer: Renderer) -> None:
    reasons = {}
    for name in ("a 100 MB string", "power folded at compile time (12.8 s before)", "too many tokens",
                 "too long", "output past its limit", "a loop past the time limit"):
        with pytest.raises(TemplateError) as refused:
            renderer.render(HOSTILE[name], {})
        reasons[name] = str(refused.value)
    assert reasons == {
        "a 100 MB string": "template over its limits: a repeated sequence's length over the template limit of 524288",
        "power folded at compile time (12.8 s before)":
            "template over its limits: a power's bits over the template limit of 10000",
        "too many tokens": f"template over {MAX_TOKENS} tokens (tags, names, operators, literals)",
        "too long": f"template over {MAX_SOURCE} characters",
        "output past its limit": "template output over 524288 bytes",
        "a loop past the time limit": "template ran longer than 1 s",
    }


def test_running_past_the_time_limit_is_its_own_kind_of_refusal(renderer: Renderer) -> None:
    with pytest.raises(TemplateTimeError):
        renderer.render(HOSTILE["a loop past the time limit"], {})


def test_nothing_of_a_template_is_evaluated_while_it_compiles(renderer: Renderer) -> None:
    for name in ("power folded at compile time (12.8 s before)", "a filter folded at compile time",
                 "an autoescape value folded at compile time", "a 100 MB string"):
        started = time.monotonic()
        renderer.compile(HOSTILE[name], False)
        assert time.monotonic() - started < 0.5, name
    assert renderer.cached_bytes < 64 * 1024  # no folded constant in what the cache holds


@pytest.mark.timeout(30)
def test_refused_templates_leave_memory_where_it_was(renderer: Renderer) -> None:
    renderer.render("warm {{ x }}", {"x": 1})
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(3):
            for name in ("a 100 MB string", "a power too big to print (a 500 before)",
                         "power folded at compile time (12.8 s before)", "a list of big strings printed",
                         "macro doubling", "string doubling in a loop", "sum of lists"):
                assert refused(renderer, HOSTILE[name])
        gc.collect()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before < 16 * 1024 * 1024  # the 100 MB string and its kin were never made
    assert after - before < 256 * 1024  # and nothing of them stayed
    assert len(renderer) == 1


def test_the_cache_is_bounded_in_bytes_and_keeps_the_recent_ones() -> None:
    renderer = Renderer(cache_bytes=3 * 300_000)
    sources = [f"{n} " + "x" * 8000 + " {{ y }}" for n in range(6)]  # about 265 KB each, by the estimate
    for source in sources:
        assert renderer.render(source, {"y": 1}).endswith(" 1")
    assert len(renderer) == 3 and renderer.cached_bytes <= 3 * 300_000
    assert all((source, False) in renderer for source in sources[3:])
    renderer.render(sources[0], {"y": 1})
    assert (sources[0], False) in renderer and (sources[3], False) not in renderer


@pytest.mark.parametrize("source", ORDINARY)
def test_ordinary_templates_render_as_jinja2_renders_them(renderer: Renderer, source: str) -> None:
    values = {"user": {"name": "ann"}}
    for html in (False, True):
        plain_jinja = ImmutableSandboxedEnvironment(autoescape=html, undefined=ChainableUndefined)
        plain = plain_jinja.from_string(source).render(values)
        assert renderer.render(source, values, html=html) == plain
