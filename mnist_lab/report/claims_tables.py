"""The claims as a reader sees them (findings.claims judges them): the tally, the table of verdicts
per band, each band's whole evidence, and the table of smallest effects of interest. Every row
says what it measured, in its unit, and which way the effect points."""

from __future__ import annotations

import math

from mnist_lab.findings.claims import (
    NOT_DETECTABLE,
    NOT_TESTABLE,
    SMALLEST_EFFECTS,
    VERDICTS,
    VERDICTS_BEFORE,
    BandFindings,
    ClaimRow,
    Finding,
    leaning,
    matched_correlation,
    n_text,
)


def tally(rows: list[ClaimRow]) -> str:
    """One line a reader can take in first: how many parts of the family got each verdict."""
    counted = [row for row in rows if row.part.family]
    counts = [f"{sum(row.verdict == v for row in counted)} {v}" for v in VERDICTS]
    exploratory = len(rows) - len(counted)
    numbered = len({row.claim for row in rows})
    return (
        f"The seed's {numbered} claims, in {len(counted)} measurable parts judged as one family (Holm's "
        f"correction, 5%): " + ", ".join(counts) + f"; {exploratory} exploratory part outside the family."
    )


def band_tally(banded: dict[str, BandFindings]) -> str:
    """tally() for each band, one sentence each."""
    if len(banded) == 1:
        ((label, band),) = banded.items()
        return f"{tally(band.rows)} (band: {label})"
    return " ".join(f"{label}: {tally(band.rows)}" for label, band in banded.items())


def disagreement(banded: dict[str, BandFindings], index: int) -> bool:
    """The bands' verdicts on part `index` differ (bands with nothing to judge it on aside)."""
    found = {band.rows[index].verdict for band in banded.values() if band.rows[index].verdict != NOT_TESTABLE}
    return len(found) > 1


def p_text(p: float) -> str:
    if math.isnan(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def effect_text(row: ClaimRow) -> str:
    """The effect in its unit with its 95% interval and which way it points: '+3.18 epochs to 99%
    validation accuracy (+1.25 to +5.11): slower'."""
    finding, part = row.finding, row.part
    test = finding.test
    low, high = finding.shown or test.interval(0.95)
    if finding.band is not None:
        return f"{test.estimate:.3f}% ({low:.3f} to {high:.3f}) against {finding.band[0]:g}-{finding.band[1]:g}%"
    if finding.measure == "swing" or (finding.exploratory and finding.measure == ""):
        value, low, high = math.exp(test.estimate), math.exp(low), math.exp(high)
        way = part.words[0] if value > 1 else part.words[1]
        return f"{value:.2f} {part.measured} ({low:.2f} to {high:.2f}): {way}"
    way = part.words[0] if test.estimate > 0 else part.words[1]
    return f"{test.estimate:+.3f} {part.measured} ({low:+.3f} to {high:+.3f}): {way}"


def needed_text(finding: Finding) -> str:
    if finding.verdict != NOT_DETECTABLE or math.isnan(finding.needed):
        return ""
    if finding.needed == -math.inf:
        return "no number of seeds: the test digits' own error alone is larger"
    side = "" if finding.band is not None or len(finding.test.n) == 1 else " a side"
    if math.isinf(finding.needed):
        return f"more than 10,000 {finding.counted}{side}"
    return f"{int(finding.needed)} {finding.counted}{side}"


def verdict_text(finding: Finding) -> str:
    if finding.exploratory:
        return f"exploratory: {finding.verdict}" if finding.test is not None else NOT_TESTABLE
    return finding.verdict


def summary_table(banded: dict[str, BandFindings], short: bool = False) -> str:
    """One row per part: its verdict in each band, the effect in its unit with its 95% interval, its
    p and Holm-adjusted p, and for an undecided part the seeds that would detect its smallest effect
    of interest. `short` (the README's): the quote without the prediction, and with one band, a
    column for each of those."""
    if short and len(banded) == 1:
        return _columns(next(iter(banded.values())))
    labels = list(banded)
    several = len(labels) > 1
    header = ["#", "the seed's notes", *([] if short else ["predicts"]), *labels, *(["bands"] if several else [])]
    lines = ["| " + " | ".join(header) + " |", "| ---: | " + " | ".join("---" for _ in header[1:]) + " |"]
    for index, row in enumerate(banded[labels[0]].rows):
        cells = [_cell(banded[label].rows[index]) for label in labels]
        agree = ["**the bands disagree**" if disagreement(banded, index) else "agree"] if several else []
        quote = f'"{row.quote}"' + ("" if short else f" | {row.prediction}")
        lines.append(f"| {row.claim} | {quote} | " + " | ".join([*cells, *agree]) + " |")
    return "\n".join(lines)


def _columns(band: BandFindings) -> str:
    """One band's parts as columns a reader scans down: what was measured, the effect, p, verdict, needed."""
    lines = [
        f"| # | the seed's notes | measured | effect (95% interval) | p (Holm-adjusted) | {band.label}: verdict "
        "| needed |",
        "| ---: | --- | --- | --- | --- | --- | --- |",
    ]
    for row in band.rows:
        finding = row.finding
        if finding.test is None:
            lines.append(f'| {row.claim} | "{row.quote}" | {row.prediction} | — | — | *{NOT_TESTABLE}* | — |')
            continue
        effect = effect_text(row).replace(f" {row.part.measured} ", " ") if row.part.measured else effect_text(row)
        adjusted = "exploratory" if finding.exploratory else p_text(finding.p_adjusted)
        lean = f", {leaning(finding).removesuffix(' the claim')}" if leaning(finding) else ""
        needed = needed_text(finding).replace("no number of seeds: the test digits' own error alone is larger", "none¹")
        measured = f"{row.part.measured or row.prediction} ({'/'.join(map(str, finding.test.n))} {finding.counted})"
        lines.append(
            f'| {row.claim} | "{row.quote}" | {measured} | {effect} | {p_text(finding.p)} ({adjusted}) '
            f"| **{verdict_text(finding)}**{lean} | {needed or '—'} |"
        )
    if any("none" in line for line in lines[2:]):
        lines += ["", "¹ No number of seeds: the 10,000 test digits' own sampling error alone is too large."]
    return "\n".join(lines)


def _cell(row: ClaimRow) -> str:
    finding = row.finding
    if finding.test is None:
        return f"*{NOT_TESTABLE}*"
    lean = f", {leaning(finding)}" if leaning(finding) else ""
    adjusted = "" if finding.exploratory else f", adjusted {p_text(finding.p_adjusted)}"
    needed = f"; needed: {needed_text(finding)}" if needed_text(finding) else ""
    return (
        f"**{verdict_text(finding)}**{lean}: {effect_text(row)}; p {p_text(finding.p)}{adjusted}; "
        f"{n_text(finding.test.n, finding.counted)}{needed}"
    )


def claims_table(band: BandFindings) -> str:
    """The seed's claims, checked in one band: one row per part, its whole evidence, its tests, its
    verdict; then the same family without the seed-42 runs, and the campaign's parts on its own seeds."""
    without = {row.part.key: row for row in band.without_seed_42}
    campaign = {row.part.key: row for row in band.campaign_only}
    lines = [
        "| # | the seed's notes | predicts | evidence | effect (95% interval, over what) | p | Holm-adjusted p "
        "| verdict | needed | without seed 42 | the campaign's seeds alone | before issue 59 |",
        "| ---: | --- | --- | --- | --- | ---: | ---: | --- | ---: | --- | --- | --- |",
    ]
    for row in band.rows:
        finding = row.finding
        if finding.test is None:
            effect, p, adjusted = "—", "—", "—"
        else:
            effect = f"{effect_text(row)}; over {finding.covers}"
            p = p_text(finding.p)
            adjusted = "outside the family" if finding.exploratory else p_text(finding.p_adjusted)
        verdict = verdict_text(finding) + (f" ({leaning(finding)})" if leaning(finding) else "")
        other = without.get(row.part.key)
        confirm = campaign.get(row.part.key)
        lines.append(
            f'| {row.claim} | "{row.quote}" | {row.prediction} | {finding.evidence} | {effect} | {p} | {adjusted} '
            f"| **{verdict}** | {needed_text(finding) or '—'} | {verdict_text(other.finding) if other else '—'} "
            f"| {verdict_text(confirm.finding) if confirm else '—'} | {VERDICTS_BEFORE.get(row.part.key, '—')} |"
        )
    return "\n".join(lines)


def smallest_effects_table() -> str:
    """SMALLEST_EFFECTS as the reader sees it: every measure's smallest effect of interest and why."""
    lines = ["| measure | smallest effect of interest | why this size |", "| --- | ---: | --- |"]
    lines += [f"| {name} | {s.size:g} {s.unit} | {s.reason} |" for name, s in SMALLEST_EFFECTS.items()]
    return "\n".join(lines)


def revision_table(banded: dict[str, BandFindings]) -> str:
    """Each part's verdict under the rules before issue 59 (VERDICTS_BEFORE, a record) beside today's in
    the committed band, with the two checks of how sure today's is."""
    band = next(iter(banded.values()), None)
    if band is None:
        return "No band has runs on both sides of any comparison yet."
    without = {row.part.key: row.finding for row in band.without_seed_42}
    campaign = {row.part.key: row.finding for row in band.campaign_only}
    lines = [
        f"Band: {band.label}. *Without seed 42*: the same family judged without the stage runs, which were trained "
        "at earlier commits and record no CPU. *The campaign's seeds alone*: the parts the campaign was planned for, "
        "on the seeds it trained (fixed before they ran), as a family of their own.",
        "",
        "| # | the seed's notes | predicts | before issue 59 | now | without seed 42 | the campaign's seeds alone |",
        "| ---: | --- | --- | --- | --- | --- | --- |",
    ]
    for row in band.rows:
        other, confirm = without.get(row.part.key), campaign.get(row.part.key)
        lines.append(
            f'| {row.claim} | "{row.quote}" | {row.prediction} | {VERDICTS_BEFORE.get(row.part.key, "—")} '
            f"| **{verdict_text(row.finding)}** | {verdict_text(other) if other else '—'} "
            f"| {verdict_text(confirm) if confirm else '—'} |"
        )
    return "\n".join(lines)


def matched_line(band: BandFindings) -> str:
    """Why the ladder's matched seeds are compared as independent samples: their correlation, from the runs."""
    pairs = [part.compares for part in (row.part for row in band.rows) if part.compares]
    found = [(pair, *matched_correlation(band.evidence, *pair)) for pair in pairs]
    shown = [f"`{a}` and `{b}` r = {r:+.2f} ({n} seeds)" for (a, b), r, n in found if not math.isnan(r)]
    if not shown:
        return ""
    return (
        "The ladder's steps are compared as independent samples (Welch): a seed's two runs of different architectures "
        "draw different weights, so they are not a pair by design. Their test accuracies' correlation over the "
        f"seeds both stages ran: {'; '.join(shown)}."
    )
