"""How numbers and names are written in every table: four decimals, signed differences, p-values, LaTeX."""

from __future__ import annotations


def format_number(value: float, digits: int = 4) -> str:
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.0000"


def format_stat(stat: tuple[float, float | None], pm: str = "±") -> str:
    mean, std = stat
    return format_number(mean) if std is None else f"{format_number(mean)} {pm} {format_number(std)}"


def signed(value: float) -> str:
    return "+" + format_number(value) if format_number(value)[0] not in "-" else format_number(value)


def format_p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


_LATEX_ESCAPES = {"&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "$": r"\$", "{": r"\{", "}": r"\}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)
