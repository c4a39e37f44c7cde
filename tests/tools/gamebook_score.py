#!/usr/bin/env python3
"""gamebook_score.py — scores `quire convert --format gamebook` output against the ground
truth of tests/tools/gen_gamebook.py.

    gamebook_score.py TRUTH.json OUT.json [--scan] [--json]
                      [--min-sections P] [--min-choices P] [--min-combat P]

sections: a true section counts as found when the output has a section with its number
whose text starts like the true text (difflib ratio >= 0.7 over the first 80 characters;
each output section matches once). choices: of the true choices of the found sections that
lie wholly on converted pages, the share whose target the output section has (a multiset
match), and of the output's choices the share that are true (precision). combat: the
share of true creatures found with name, SKILL and STAMINA all right. --scan: OUT.json
comes from scan.pdf, whose page i is source page truth["scan_pages"][i-1]; only the
sections on those pages count. Prints one line per figure; exits 1 when a --min-* figure
(percent) is not reached.
"""
import argparse
import difflib
import json
import re
import sys
from collections import Counter


def norm(s):
    return re.sub(r"\s+", " ", s or "").strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("truth")
    ap.add_argument("out")
    ap.add_argument("--scan", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--min-sections", type=float)
    ap.add_argument("--min-choices", type=float)
    ap.add_argument("--min-precision", type=float)
    ap.add_argument("--min-combat", type=float)
    ap.add_argument("--verbose", "-v", action="store_true")
    a = ap.parse_args()
    truth = json.load(open(a.truth))
    out = json.load(open(a.out))
    pages = None
    page_map = {}
    if a.scan:
        pages = set(truth["scan_pages"])
        page_map = {i + 1: p for i, p in enumerate(truth["scan_pages"])}
    tsecs = [t for t in truth["sections"] if pages is None or t["page"] in pages]
    osecs = out["sections"]
    for o in osecs:
        o["_page"] = page_map.get(o["page"], o["page"]) if a.scan else o["page"]
    by_num = {}
    for i, o in enumerate(osecs):
        by_num.setdefault(o["number"], []).append(i)
    used = set()
    found = []
    for t in tsecs:
        best, best_r = None, 0.7
        for i in by_num.get(t["number"], []):
            if i in used:
                continue
            r = difflib.SequenceMatcher(None, norm(t["text"])[:80], norm(osecs[i]["text"])[:80]).ratio()
            if r >= best_r:
                best, best_r = i, r
        if best is None:
            if a.verbose:
                print("missed section %d (page %d)" % (t["number"], t["page"]), file=sys.stderr)
            continue
        used.add(best)
        found.append((t, osecs[best]))
    spurious = [o for i, o in enumerate(osecs) if i not in used]
    if pages is not None:  # sections that began on a page not converted are not spurious
        spurious = [o for o in spurious if o["_page"] in pages and o["number"] not in
                    {t["number"] for t in truth["sections"] if t["page"] not in pages}]
    n_true_ch = n_hit = n_out_ch = n_out_ok = 0
    n_cr = n_cr_ok = 0
    for t, o in found:
        whole = pages is None or all(p in pages for p in range(t["page"], t["page_end"] + 1))
        if not whole:
            continue
        tc = Counter(c["target"] for c in t["choices"])
        oc = Counter(c["target"] for c in o["choices"])
        hit = sum((tc & oc).values())
        n_true_ch += sum(tc.values())
        n_hit += hit
        n_out_ch += sum(oc.values())
        n_out_ok += hit
        if a.verbose and tc != oc:
            print("section %d: choices %s, found %s" % (t["number"], sorted(tc.elements()),
                                                       sorted(oc.elements())), file=sys.stderr)
        ocr = [(norm(c.get("name")).upper(), c["skill"], c["stamina"]) for c in o["combat"]]
        for c in t["combat"]:
            n_cr += 1
            k = (c["name"].upper(), c["skill"], c["stamina"])
            if k in ocr:
                n_cr_ok += 1
                ocr.remove(k)
            elif a.verbose:
                print("section %d: creature %s, found %s" % (t["number"], k, ocr), file=sys.stderr)
    n_end = sum(1 for t, o in found if (t["ending"] or None) == (o.get("ending") or None))

    def pct(x, n):
        return 100.0 * x / n if n else 100.0

    res = {"sections_true": len(tsecs), "sections_found": len(found),
           "sections_pct": pct(len(found), len(tsecs)), "sections_spurious": len(spurious),
           "choices_true": n_true_ch, "choices_found": n_hit, "choices_pct": pct(n_hit, n_true_ch),
           "choices_precision_pct": pct(n_out_ok, n_out_ch),
           "creatures_true": n_cr, "creatures_found": n_cr_ok, "combat_pct": pct(n_cr_ok, n_cr),
           "endings_pct": pct(n_end, len(found))}
    if a.json:
        print(json.dumps(res))
    else:
        print("sections  %d/%d found with the right number (%.2f %%), %d spurious" % (
            len(found), len(tsecs), res["sections_pct"], len(spurious)))
        print("choices   %d/%d right target (%.2f %%), precision %.2f %%" % (
            n_hit, n_true_ch, res["choices_pct"], res["choices_precision_pct"]))
        print("combat    %d/%d creatures with name, SKILL, STAMINA right (%.2f %%)" % (
            n_cr_ok, n_cr, res["combat_pct"]))
        print("endings   %.2f %% of found sections" % res["endings_pct"])
    bad = []
    for key, lim in (("sections_pct", a.min_sections), ("choices_pct", a.min_choices),
                     ("choices_precision_pct", a.min_precision), ("combat_pct", a.min_combat)):
        if lim is not None and res[key] < lim:
            bad.append("%s %.2f < %.2f" % (key, res[key], lim))
    if bad:
        print("FAIL: " + "; ".join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
