#!/usr/bin/env python3
"""gen_gamebook.py — writes a Fighting-Fantasy-style gamebook PDF (no copyrighted text: every
word comes from the lists below, shuffled by a seeded RNG) and its ground truth, for
`quire convert --format gamebook` and `quire validate gamebook`.

    gen_gamebook.py OUTDIR [--sections 400] [--seed 1] [--plant-errors]
                           [--scan] [--scan-pages 3,7-9] [--dpi 200]

Writes OUTDIR/book.pdf (born-digital: two columns of justified Times, section numbers as
bold centred headings, combat blocks with tab-aligned SKILL/STAMINA, illustrations as
images, running head and page numbers), OUTDIR/truth.json (every section: number, pages,
choices with targets, combat, items, ending; the planted errors) and with --scan
OUTDIR/scan.pdf: the pages rendered by pdftoppm (mupdf-tools' mutool for the font widths,
poppler-utils for rendering: both in .ci/setup), turned by a small skew, greyed, noised and
speckled, one grey image per page (only --scan-pages when given, in that order; truth.json
then says which source pages they are).

--plant-errors adds the errors `quire validate gamebook` must find: a choice to a section
that does not exist, a section no choice leads to, a section number printed twice, and a
dead end that is not an ending. Only the Python standard library is used.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mkpdf  # noqa: E402

PAGE_W, PAGE_H = 595.0, 842.0
MARGIN_X, TOP, BOTTOM = 50.0, 70.0, 60.0
GUTTER = 22.0
COL_W = (PAGE_W - 2 * MARGIN_X - GUTTER) / 2
SIZE, LEAD = 10.0, 12.2
NUM_SIZE = 13.0
TITLE = "THE CAVERNS OF THE SALT KING"

FONTS = {
    "F1": "<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman /Encoding /WinAnsiEncoding >>",
    "F2": "<< /Type /Font /Subtype /Type1 /BaseFont /Times-Bold /Encoding /WinAnsiEncoding >>",
    "F3": "<< /Type /Font /Subtype /Type1 /BaseFont /Times-Italic /Encoding /WinAnsiEncoding >>",
}
FONT_NAMES = {"F1": "Times-Roman", "F2": "Times-Bold", "F3": "Times-Italic"}

PLACES = ["corridor", "cavern", "chamber", "tunnel", "passage", "hall", "crypt", "gallery",
          "stairway", "grotto", "vault", "bridge", "shaft", "cellar", "courtyard", "shrine"]
ADJ = ["narrow", "damp", "dusty", "silent", "cold", "crumbling", "dark", "winding", "low",
       "vast", "ancient", "echoing", "flooded", "foul-smelling", "glittering", "smoky"]
THINGS = ["door", "chest", "statue", "lever", "altar", "skeleton", "torch", "archway",
          "pool", "rope", "tapestry", "well", "iron gate", "trapdoor", "idol", "mirror"]
VERBS = ["open the door", "climb the stairs", "search the room", "follow the tunnel north",
         "cross the bridge", "pull the lever", "examine the statue", "wade into the pool",
         "step through the archway", "read the inscription", "light a torch",
         "descend the shaft", "hide behind the altar", "call out", "press on east",
         "go back the way you came", "rest for a while", "try the iron gate",
         "attack at once", "talk to the stranger", "drink from the well", "take the left fork",
         "take the right fork", "lift the trapdoor", "break the mirror", "listen at the wall"]
SENSES = ["You hear water dripping somewhere ahead.", "A cold draught makes your torch flicker.",
          "The air smells of salt and old smoke.", "Something scuttles away into the dark.",
          "Your footsteps echo from the walls.", "Faint light seeps through a crack above.",
          "The floor is slick with green slime.", "Bones crunch beneath your boots.",
          "A distant drum beats slowly.", "Strange runes are carved into the stone.",
          "The ceiling here is so low that you must stoop.", "Cobwebs brush your face."]
CREATURES = ["CAVE TROLL", "GOBLIN", "ORC CHIEFTAIN", "GIANT RAT", "SKELETON WARRIOR",
             "HILL GIANT", "WEREWOLF", "MARSH GHOUL", "SALT WRAITH", "BARBARIAN",
             "DWARF GUARD", "RHINO-MAN", "CAVE SNAKE", "IRON GOLEM", "BLOOD BEAST",
             "VAMPIRE BAT", "WILD HOG", "SWORDSMAN", "OGRE", "ZOMBIE", "DARK ELF", "MANTICORE"]
ITEMS = ["Silver Key", "Rope", "Lantern", "Potion of Strength", "Iron Shield", "Copper Ring",
         "Bone Whistle", "Jade Amulet", "Vial of Holy Water", "Map of the Caverns",
         "Brass Lamp", "Dragon's Tooth", "Salt Crystal", "Red Gem", "Wooden Flute"]
CAPTIONS = ["The troll lunges from the shadows.", "A bridge of bone spans the chasm.",
            "The Salt King on his glittering throne.", "Torches gutter in the great hall.",
            "Rats pour from the broken wall."]


def font_widths():
    """Advance widths (1/1000 em) of characters 32..126 for each font, from MuPDF's own
    base-14 fonts (the ones that render the page)."""
    js = ("var names=%s;var r={};for(var i=0;i<names.length;i++){var f=new Font(names[i]);"
          "var w=[];for(var c=32;c<127;c++)w.push(Math.round(f.advanceGlyph("
          "f.encodeCharacter(c),0)*1000));r[names[i]]=w;}print(JSON.stringify(r));"
          % json.dumps(sorted(set(FONT_NAMES.values()))))
    with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
        f.write(js)
        path = f.name
    try:
        out = subprocess.run(["mutool", "run", path], check=True, capture_output=True,
                             text=True).stdout
    finally:
        os.unlink(path)
    return json.loads(out)


WIDTHS = None


def text_w(s, font, size):
    w = WIDTHS[FONT_NAMES[font]]
    return sum(w[ord(c) - 32] if 32 <= ord(c) < 127 else 500 for c in s) * size / 1000.0


def pdf_str(s):
    return "(" + s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


# ------------------------------------------------------------------ the story graph

def make_story(n, rng, plant):
    """Sections 1..n: a hidden main path 1 -> ... -> n (victory) through every section
    that is not a death, each other section reached by at least one extra choice."""
    deaths = set(rng.sample(range(2, n), max(1, n // 12)))
    path = [s for s in range(2, n) if s not in deaths]
    rng.shuffle(path)
    path = [1] + path + [n]
    nxt = {path[i]: path[i + 1] for i in range(len(path) - 1)}
    sections = {}
    for s in range(1, n + 1):
        sections[s] = {"number": s, "targets": [], "ending": None, "combat": [], "items": []}
    for s in path[:-1]:
        sections[s]["targets"].append(nxt[s])
    sections[n]["ending"] = "victory"
    for d in deaths:
        sections[d]["ending"] = "death"
    alive = path[:-1]
    for d in sorted(deaths):  # each death is one wrong choice away from a living section
        src = rng.choice(alive)
        while len(sections[src]["targets"]) >= 3:
            src = rng.choice(alive)
        sections[src]["targets"].append(d)
    for s in alive:
        while len(sections[s]["targets"]) < 3 and rng.random() < 0.45:
            t = rng.randint(2, n)
            if t != s and t not in sections[s]["targets"]:
                sections[s]["targets"].append(t)
    for s in alive:
        rng.shuffle(sections[s]["targets"])
    planted = []
    order = list(range(1, n + 1))
    if plant:
        # 1. a choice to a section that does not exist
        s = path[len(path) // 3]
        sections[s]["targets"].append(n + 17)
        planted.append({"kind": "missing_target", "section": s, "target": n + 17})
        # 2. a section nobody points to: drop every choice that leads to it; its own
        # successors on the path stay reachable through the one it was removed from
        victim = path[len(path) // 2]
        for t in sections.values():
            if victim in t["targets"]:
                t["targets"].remove(victim)
                if not t["targets"] and t["ending"] is None:
                    t["targets"].append(nxt[victim])
        before = sections[path[path.index(victim) - 1]]["targets"]
        for t in sections[victim]["targets"]:  # what only the victim led to stays reachable
            if t not in before:
                before.append(t)
        planted.append({"kind": "unreachable", "section": victim})
        # 3. a dead end that is not an ending: a death-free section loses its choices, and
        # what it led to gets a path from its predecessor
        dead = path[2 * len(path) // 3]
        prev = path[path.index(dead) - 1]
        for t in sections[dead]["targets"]:
            if t not in sections[prev]["targets"]:
                sections[prev]["targets"].append(t)
        sections[dead]["targets"] = []
        sections[dead]["dead_end"] = True
        planted.append({"kind": "dead_end", "section": dead})
        # 4. a number printed twice: a second section numbered like its neighbour
        dup = (n * 3) // 4
        extra = {"number": dup, "targets": list(sections[dup]["targets"]) or [n],
                 "ending": None, "combat": [], "items": [], "duplicate": True}
        planted.append({"kind": "duplicate", "section": dup})
        order.insert(order.index(dup) + 1, ("dup", dup))
        sections[("dup", dup)] = extra
    return sections, order, planted


# ------------------------------------------------------------------ section text

def plural(s):
    return s + "es" if s.endswith(("ch", "sh", "ss")) else s + "s"


def section_paragraphs(sec, rng, n):
    """Paragraphs of one section: a list of items ("p", text) / ("combat", rows); fills
    sec["choices"] with {target, phrase} in reading order and sec["combat"]/["items"]."""
    paras = []
    body = []
    for _ in range(rng.randint(2, 5)):
        r = rng.random()
        if r < 0.35:
            body.append(rng.choice(SENSES))
        elif r < 0.7:
            thing = rng.choice(THINGS)
            adj = rng.choice(ADJ)
            body.append("You enter %s %s %s. In the far corner stands %s %s." % (
                "an" if adj[0] in "aeiou" else "a", adj, rng.choice(PLACES),
                "an" if thing[0] in "aeiou" else "a", thing))
        elif r < 0.85:  # numbers that are not choices
            body.append("You count %d %s along the wall, and %d more beyond them." % (
                rng.randint(2, 40), plural(rng.choice(THINGS)), rng.randint(2, 9)))
        else:
            body.append("The %s is %s and %s, and you wonder who built it %d years ago." % (
                rng.choice(PLACES), rng.choice(ADJ), rng.choice(ADJ), rng.randint(100, 900)))
    if rng.random() < 0.04:  # a paragraph that opens with a numeral (not a section)
        body.insert(0, "%d steps lead down into the darkness." % rng.randint(3, 60))
    paras.append(("p", " ".join(body)))
    sec["choices"] = []
    targets = list(sec["targets"])
    if sec["ending"] == "death":
        paras.append(("p", rng.choice([
            "The poison works quickly and you slump to the floor. Your adventure ends here.",
            "The stone door slams shut behind you and the air grows thin. Your adventure "
            "ends here.", "You fall into the endless dark. Your adventure is over."])))
        return paras
    if sec["ending"] == "victory":
        paras.append(("p", "The Salt King is no more, and the caverns fall silent. You have "
                      "completed your quest, and your name will be sung for years to come."))
        return paras
    if sec.get("dead_end"):
        paras.append(("p", "You sit down on a cold stone and stare into the dark, unsure of "
                      "what to do next."))
        return paras
    fight = targets and rng.random() < 0.22
    if fight:
        k = 1 if rng.random() < 0.8 else rng.randint(2, 3)
        name = rng.choice(CREATURES)
        rows = []
        for i in range(k):
            label = name if k == 1 else "%s %s" % (["First", "Second", "Third"][i], name)
            rows.append((label, rng.randint(4, 11), rng.randint(3, 14)))
        sec["combat"] = [{"name": r[0], "skill": r[1], "stamina": r[2]} for r in rows]
        lead = ("A %s bursts from the shadows and attacks!" % name.title() if k == 1 else
                "%d %sS close in on you. Fight them one at a time." % (k, name))
        paras.append(("p", lead))
        paras.append(("combat", rows))
        t = targets.pop(0)
        phrase = "If you win, turn to %d." % t
        sec["choices"].append({"target": t, "phrase": phrase})
        paras.append(("p", phrase))
    if targets and rng.random() < 0.15:
        item = rng.choice(ITEMS)
        sec["items"].append({"name": item, "action": "gain"})
        paras.append(("p", "Lying among the rubble you find a %s. Add it to your Adventure "
                      "Sheet." % item))
    if not targets:
        return paras
    parts = []
    if len(targets) == 2 and rng.random() < 0.25:
        a, b = targets
        if rng.random() < 0.5:
            s1, s2 = "If you are Lucky, turn to %d." % a, "If you are Unlucky, turn to %d." % b
            parts = ["Test your Luck.", s1, s2]
        else:
            item = rng.choice(ITEMS)
            s1, s2 = "If you have a %s, turn to %d." % (item, a), "If not, turn to %d." % b
            parts = [s1, s2]
        sec["choices"].append({"target": a, "phrase": s1})
        sec["choices"].append({"target": b, "phrase": s2})
        paras.append(("p", " ".join(parts)))
        return paras
    for i, t in enumerate(targets):
        r = rng.random()
        if len(targets) == 1 and r < 0.3:
            phrase = "Turn to %d." % t
        elif r < 0.55:
            phrase = "If you wish to %s, turn to %d." % (rng.choice(VERBS), t)
        elif r < 0.75:
            phrase = "If you would rather %s, turn to %d." % (rng.choice(VERBS), t)
        elif r < 0.9:
            phrase = "If you decide to %s, go to %d." % (rng.choice(VERBS), t)
        else:
            phrase = "You may %s (turn to %d)." % (rng.choice(VERBS), t)
        sec["choices"].append({"target": t, "phrase": phrase})
        parts.append(phrase)
    paras.append(("p", " ".join(parts)))
    return paras


# ------------------------------------------------------------------ typesetting

class Typesetter:
    """Two columns per page, filled top to bottom, left then right."""

    def __init__(self, rng):
        self.rng = rng
        self.pages = []
        self.new_page()

    def new_page(self):
        self.page = {"ops": [], "images": {}, "n_img": 0}
        self.pages.append(self.page)
        self.col = 0
        self.y = PAGE_H - TOP

    def col_x(self):
        return MARGIN_X + self.col * (COL_W + GUTTER)

    def room(self):
        return self.y - BOTTOM

    def next_column(self):
        if self.col == 0:
            self.col = 1
            self.y = self.top_of_column
        else:
            self.new_page()

    @property
    def top_of_column(self):
        return self.page.get("col_top", PAGE_H - TOP)

    def need(self, h):
        if self.room() < h:
            self.next_column()

    def page_no(self):
        return len(self.pages)

    def text(self, x, y, s, font, size, tw=0.0):
        op = "BT /%s %.1f Tf %.3f Tw %.2f %.2f Td %s Tj ET" % (font, size, tw, x, y, pdf_str(s))
        self.page["ops"].append(op)

    def heading(self, num):
        label = str(num)
        self.need(NUM_SIZE + 6 + 3 * LEAD)  # a number never ends a column alone
        self.y -= 6
        w = text_w(label, "F2", NUM_SIZE)
        self.y -= NUM_SIZE
        self.text(self.col_x() + (COL_W - w) / 2, self.y, label, "F2", NUM_SIZE)
        self.y -= 5
        return self.page_no()

    def paragraph(self, s, indent=0.0, font="F1"):
        words = s.split()
        lines, cur = [], []
        width = COL_W - indent
        for wd in words:
            trial = " ".join(cur + [wd])
            if cur and text_w(trial, font, SIZE) > width:
                lines.append(cur)
                cur = [wd]
                width = COL_W
            else:
                cur.append(wd)
        if cur:
            lines.append(cur)
        for i, ln in enumerate(lines):
            if self.room() < LEAD:
                self.next_column()
            self.y -= LEAD
            x = self.col_x() + (indent if i == 0 else 0.0)
            line = " ".join(ln)
            tw = 0.0
            if i < len(lines) - 1 and len(ln) > 1:  # justified
                avail = (COL_W - (indent if i == 0 else 0.0)) - text_w(line, font, SIZE)
                tw = max(0.0, avail / (len(ln) - 1))
            self.text(x, self.y, line, font, SIZE, tw)
        self.y -= 3

    def combat(self, rows):
        self.need(LEAD * len(rows) + 6)
        self.y -= 3
        for name, sk, st in rows:
            self.y -= LEAD
            x = self.col_x() + 8
            self.text(x, self.y, name, "F1", SIZE - 1)
            self.text(x + COL_W * 0.52, self.y, "SKILL %d" % sk, "F1", SIZE - 1)
            self.text(x + COL_W * 0.74, self.y, "STAMINA %d" % st, "F1", SIZE - 1)
        self.y -= 6

    def image(self, h, full_width=False, caption=None):
        if not full_width:
            self.need(h + (LEAD + 4 if caption else 0) + 10)
        pg = self.page
        name = "Im%d" % pg["n_img"]
        pg["n_img"] += 1
        iw, ih = 60, max(8, int(60 * h / COL_W))
        data = bytearray()
        cx, cy, r = self.rng.uniform(10, 50), self.rng.uniform(5, ih - 5), self.rng.uniform(6, 25)
        for yy in range(ih):
            for xx in range(iw):
                d = ((xx - cx) ** 2 + (yy - cy) ** 2) ** 0.5
                v = 60 + int(120 * abs(((xx * 7 + yy * 3) % 40) - 20) / 20)
                data.append(30 if d < r else min(235, v))
        pg["images"][name] = (iw, ih, bytes(data))
        if full_width:
            x, w = MARGIN_X, PAGE_W - 2 * MARGIN_X
            y = PAGE_H - TOP - h
            pg["ops"].append("q %.2f 0 0 %.2f %.2f %.2f cm /%s Do Q" % (w, h, x, y, name))
            pg["col_top"] = y - 14
            self.y = pg["col_top"]
            return
        self.y -= 6 + h
        pg["ops"].append("q %.2f 0 0 %.2f %.2f %.2f cm /%s Do Q" % (COL_W, h, self.col_x(),
                                                                     self.y, name))
        if caption:
            self.y -= LEAD + 2
            w = text_w(caption, "F3", SIZE - 1)
            self.text(self.col_x() + (COL_W - w) / 2, self.y, caption, "F3", SIZE - 1)
        self.y -= 8

    def finish(self):
        out = []
        for i, pg in enumerate(self.pages, 1):
            ops = list(pg["ops"])
            w = text_w(TITLE, "F1", 8)
            ops.append("BT /F1 8 Tf %.2f %.2f Td %s Tj ET" % ((PAGE_W - w) / 2, PAGE_H - 40,
                                                             pdf_str(TITLE)))
            num = str(i)
            w = text_w(num, "F1", 9)
            ops.append("BT /F1 9 Tf %.2f %.2f Td %s Tj ET" % ((PAGE_W - w) / 2, 32, pdf_str(num)))
            out.append({"content": "\n".join(ops).encode("latin-1"), "size": (PAGE_W, PAGE_H),
                        "images": pg["images"]})
        return out


def build(n, seed, plant):
    rng = random.Random(seed)
    sections, order, planted = make_story(n, rng, plant)
    ts = Typesetter(rng)
    # a title page of its own, then the rules (numbers here are not sections)
    ts.paragraph("%s. An adventure in which YOU are the hero. Roll two dice: your SKILL is "
                 "the total plus 6, your STAMINA the total of two more dice plus 12, and your "
                 "LUCK one die plus 6. Begin at section 1 and follow the numbers." % TITLE)
    ts.paragraph("You carry a sword, leather armour, a backpack with 10 Provisions, and 2 "
                 "Potions. Each Provision restores 4 STAMINA points.")
    ts.new_page()
    truth = []
    since_img = 0
    for key in order:
        sec = sections[key]
        paras = section_paragraphs(sec, rng, n)
        page = ts.heading(sec["number"])
        for kind, val in paras:
            if kind == "p":
                ts.paragraph(val)
            else:
                ts.combat(val)
        since_img += 1
        if since_img >= 7 and rng.random() < 0.35:
            since_img = 0
            if ts.col == 0 and ts.y < PAGE_H - TOP - 300 and rng.random() < 0.2:
                ts.new_page()
                ts.image(rng.uniform(180, 260), full_width=True)
            else:
                ts.image(rng.uniform(90, 170), caption=rng.choice(CAPTIONS)
                         if rng.random() < 0.4 else None)
        text = " ".join(v if k == "p" else " ".join("%s SKILL %d STAMINA %d" % r for r in v)
                        for k, v in paras)
        truth.append({"number": sec["number"], "page": page, "page_end": ts.page_no(),
                      "text": text,
                      "choices": sec["choices"], "combat": sec["combat"], "items": sec["items"],
                      "ending": sec["ending"]})
    return ts.finish(), truth, planted


# ------------------------------------------------------------------ scanned form

def parse_pgm(data):
    parts = []
    i = 0
    while len(parts) < 4:
        while data[i:i + 1].isspace():
            i += 1
        j = i
        while not data[j:j + 1].isspace():
            j += 1
        parts.append(data[i:j])
        i = j
    i += 1
    return int(parts[1]), int(parts[2]), data[i:]


def degrade(pix, w, h, rng):
    """Grey paper, lighter ink, noise and speckles, without per-pixel Python loops: the
    noise is added as one big integer (every byte of the picture is first squeezed into
    [16, 239], so adding and subtracting bytes in [0, 16] never carries)."""
    lo, hi = rng.randint(28, 50), rng.randint(205, 228)
    table = bytes(16 + (lo + (hi - lo) * v // 255) * (239 - 16) // 255 for v in range(256))
    img = pix.translate(table)
    n = len(img)
    amp = bytes(min(16, v // 16) for v in range(256))
    plus = rng.randbytes(n).translate(amp)
    minus = rng.randbytes(n).translate(amp)
    v = int.from_bytes(img, "big") + int.from_bytes(plus, "big") - int.from_bytes(minus, "big")
    out = bytearray(v.to_bytes(n, "big"))
    for _ in range(w * h // 4000):  # dark specks and small blots
        x, y = rng.randrange(1, w - 2), rng.randrange(1, h - 2)
        for dy in range(rng.randint(1, 2)):
            for dx in range(rng.randint(1, 2)):
                out[(y + dy) * w + x + dx] = rng.randint(20, 90)
    return bytes(out)


def scan(pages, which, dpi, seed, outdir):
    rng = random.Random(seed * 7919 + 1)
    tmp = tempfile.mkdtemp(prefix="gamebook-scan-")
    src = []
    for p in which:  # each page turned by a small skew, as a page on the scanner glass
        pg = dict(pages[p - 1])
        a = rng.uniform(-0.8, 0.8) * 3.14159265 / 180
        import math
        c, s = math.cos(a), math.sin(a)
        cx, cy = PAGE_W / 2, PAGE_H / 2
        tx, ty = cx - c * cx + s * cy, cy - s * cx - c * cy
        pg["content"] = (b"q %.6f %.6f %.6f %.6f %.3f %.3f cm\n" % (c, s, -s, c, tx, ty) +
                         pg["content"] + b"\nQ")
        src.append(pg)
    mkpdf.write(os.path.join(tmp, "src.pdf"), src, FONTS)
    out_pages = []
    for i in range(len(which)):
        stem = os.path.join(tmp, "p%d" % i)
        subprocess.run(["pdftoppm", "-gray", "-r", str(dpi), "-f", str(i + 1), "-l",
                        str(i + 1), "-singlefile", os.path.join(tmp, "src.pdf"), stem],
                       check=True)
        with open(stem + ".pgm", "rb") as f:
            w, h, pix = parse_pgm(f.read())
        os.unlink(stem + ".pgm")
        pix = degrade(pix, w, h, rng)
        out_pages.append({"content": b"q %.2f 0 0 %.2f 0 0 cm /Scan Do Q" % (PAGE_W, PAGE_H),
                          "size": (PAGE_W, PAGE_H), "images": {"Scan": (w, h, pix)}})
    os.unlink(os.path.join(tmp, "src.pdf"))
    os.rmdir(tmp)
    mkpdf.write(os.path.join(outdir, "scan.pdf"), out_pages, FONTS)


def page_list(spec, n):
    out = []
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b or n) + 1))
        else:
            out.append(int(part))
    return [p for p in out if 1 <= p <= n]


def main():
    global WIDTHS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--sections", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--plant-errors", action="store_true")
    ap.add_argument("--scan", action="store_true")
    ap.add_argument("--scan-pages", default=None)
    ap.add_argument("--dpi", type=int, default=200)
    a = ap.parse_args()
    if a.sections < 20:
        ap.error("--sections must be at least 20")
    WIDTHS = font_widths()
    os.makedirs(a.outdir, exist_ok=True)
    pages, truth, planted = build(a.sections, a.seed, a.plant_errors)
    mkpdf.write(os.path.join(a.outdir, "book.pdf"), pages, FONTS)
    doc = {"title": TITLE, "n_pages": len(pages), "sections": truth, "planted": planted}
    if a.scan:
        which = page_list(a.scan_pages, len(pages)) if a.scan_pages else \
            list(range(1, len(pages) + 1))
        scan(pages, which, a.dpi, a.seed, a.outdir)
        doc["scan_pages"] = which
    with open(os.path.join(a.outdir, "truth.json"), "w") as f:
        json.dump(doc, f, indent=1)
    print("%s: %d pages, %d sections%s" % (a.outdir, len(pages), len(truth),
                                           ", scan of %d pages" % len(doc["scan_pages"])
                                           if a.scan else ""))


if __name__ == "__main__":
    main()
