"""The seed campaign fixed in docs/campaign-2026-12.md, as data: how many seeds each arm has when
the campaign is done. The README says where the campaign stands, so that a verdict resting on an
unfinished campaign reads as interim. The plan fixed its n before any run; nothing here moves it."""

PLAN = "docs/campaign-2026-12.md"
SEEDS_WHEN_DONE = {"dnn": 14, "cnn_reg": 11, "cnn_bn": 11, "cnn_bn_aug": 11}


def campaign_line(seed_counts: dict[str, int]) -> str:
    """One line for the README: the arms still short of their planned seeds, or that none is."""
    short = {arm: n for arm, n in SEEDS_WHEN_DONE.items() if seed_counts.get(arm, 0) < n}
    if not short:
        return f"The seed campaign ([plan]({PLAN})) is complete: every arm has its planned seeds."
    so_far = ", ".join(f"`{arm}` {seed_counts.get(arm, 0)}/{n}" for arm, n in short.items())
    return f"**Seed campaign under way** ([plan]({PLAN})): seeds {so_far}; verdicts resting on them are interim."
