#!/usr/bin/env python3
"""gen_corpus: writes the labelled sensitivity corpus test/sens/corpus/ (request bodies + MANIFEST).

Run from the repository root:  python3 test/sens/gen_corpus.py
Output is deterministic (fixed seed); the generated files are checked in, so run it only to change
the corpus, and commit what it writes.

Every value is made up. Card, IBAN, NIR, SSN and NINO values are generated with their real
checksum rules (independently of the C code under test, so the corpus cross-checks it); phone
numbers use the ranges reserved for fiction where they exist (555-01xx, Ofcom drama ranges).
Secrets are shaped like the real formats but random, and carry one DEL byte (0x7f) inside so
that secret scanners do not flag this corpus as leaked credentials; test_sens_corpus removes DEL
bytes before scanning.

MANIFEST: one line per file: `<file> <kinds> <secrets>` where <kinds> is `kind=count,...` (the
occurrences of each kind the body truly contains) or `-`, and <secrets> is `type+type` or `-`.
"""

import base64
import json
import os
import random
import string
import sys

R = random.Random(0x5E45C0DE)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
DEL = "\x7f"
UP, LO, DIG = string.ascii_uppercase, string.ascii_lowercase, string.digits
ALNUM = UP + LO + DIG
B64URL = ALNUM + "-_"


def pick(seq):
    return seq[R.randrange(len(seq))]


def rand_str(alphabet, n):
    return "".join(pick(alphabet) for _ in range(n))


def mixed(alphabet, n):
    """Random string that mixes upper, lower and digits (as real generated tokens do)."""
    while True:
        s = rand_str(alphabet, n)
        if any(c in UP for c in s) and any(c in LO for c in s) and any(c in DIG for c in s):
            return s


class Doc:
    """The labels of one sample: occurrences per kind and the secret types present."""

    def __init__(self):
        self.kinds = {}
        self.secrets = set()

    def add(self, kind, value, secret=None, n=1):
        self.kinds[kind] = self.kinds.get(kind, 0) + n
        if secret:
            self.secrets.add(secret)
        return value


# ---------------------------------------------------------------- PII values

FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "wendy",
         "yusuf", "zoe", "marie", "lukas", "sofia", "chen", "priya", "kenji", "fatima"]
LAST = ["smith", "jones", "garcia", "muller", "dubois", "rossi", "tanaka", "nguyen", "kowalski",
        "okafor", "silva", "novak", "larsen", "haddad", "ivanova", "brown", "martin", "lee"]
DOMAINS = ["example.com", "example.org", "example.net", "acme-corp.com", "mail.example.co.uk",
           "contoso.io", "fabrikam.de", "initech.fr", "globex.example", "umbrella.ai",
           "students.univ-example.edu", "gmail.com", "outlook.com", "proton.me", "yahoo.co.jp"]


def email():
    f, l, d = pick(FIRST), pick(LAST), pick(DOMAINS)
    shape = R.randrange(6)
    if shape == 0:
        return f"{f}.{l}@{d}"
    if shape == 1:
        return f"{f[0]}{l}@{d}"
    if shape == 2:
        return f"{f}+{pick(['news', 'billing', 'test', 'ai'])}@{d}"
    if shape == 3:
        return f"{f}_{l}{R.randrange(10, 99)}@{d}"
    if shape == 4:
        return f"{f.capitalize()}.{l.capitalize()}@{d.upper() if R.random() < 0.3 else d}"
    return f"{pick(['support', 'hr', 'billing', 'security', 'no-reply'])}@{d}"


NANP_AREAS = ["212", "415", "646", "312", "617", "206", "303", "512", "404", "702", "213",
              "718", "305", "503", "604", "416"]


def phone():
    area = pick(NANP_AREAS)
    sub = f"01{R.randrange(0, 100):02d}"
    shape = R.randrange(16)
    if shape == 0:
        return f"({area}) 555-{sub}"
    if shape == 1:
        return f"{area}-555-{sub}"
    if shape == 2:
        return f"{area}.555.{sub}"
    if shape == 3:
        return f"+1 {area} 555 {sub}"
    if shape == 4:
        return f"+1-{area}-555-{sub}"
    if shape == 5:
        return f"1-800-555-{sub}"
    if shape == 6:
        return f"+44 20 7946 0{R.randrange(0, 1000):03d}"
    if shape == 7:
        return f"020 7946 0{R.randrange(0, 1000):03d}"
    if shape == 8:
        return f"07700 900{R.randrange(0, 1000):03d}"
    if shape == 9:
        return f"+44 7700 900{R.randrange(0, 1000):03d}"
    if shape == 10:
        return "+33 " + str(R.randrange(1, 8)) + "".join(f" {R.randrange(0, 100):02d}" for _ in range(4))
    if shape == 11:
        return "0" + pick("1234567") + "".join(f" {R.randrange(0, 100):02d}" for _ in range(4))
    if shape == 12:
        return f"+49 {pick(['30', '89', '40', '221'])} {R.randrange(100000, 9999999)}"
    if shape == 13:
        return pick([f"+34 6{R.randrange(10, 99)} {R.randrange(100, 999)} {R.randrange(100, 999)}",
                     f"+39 06 {R.randrange(1000, 9999)} {R.randrange(1000, 9999)}",
                     f"+31 20 {R.randrange(100, 999)} {R.randrange(1000, 9999)}",
                     f"+61 2 {R.randrange(1000, 9999)} {R.randrange(1000, 9999)}"])
    if shape == 14:
        return pick([f"+81 3-{R.randrange(1000, 9999)}-{R.randrange(1000, 9999)}",
                     f"+91 9{R.randrange(1000, 9999)} {R.randrange(10000, 99999)}",
                     f"0161 496 0{R.randrange(0, 1000):03d}"])
    return pick([f"+1 ({area}) 555-{sub}", f"+44 (0)20 7946 0{R.randrange(0, 1000):03d}",
                 f"+33 (0)1 {R.randrange(10, 99)} {R.randrange(10, 99)} {R.randrange(10, 99)} {R.randrange(10, 99)}",
                 f"{area} 555 {sub}", f"+49 (0)30 {R.randrange(1000000, 9999999)}", f"+14155550{R.randrange(100, 199)}"])


def luhn_digit(body):
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(num):
    return luhn_digit(num[:-1]) == num[-1]


CARD_BRANDS = [("4", 16), ("4", 16), ("51", 16), ("53", 16), ("55", 16), ("2221", 16),
               ("2720", 16), ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("3530", 16),
               ("36", 14), ("62", 16), ("4", 19)]
TEST_CARDS = ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117",
              "4242424242424242", "5105105105105100", "4012888888881881"]


def card_number():
    if R.random() < 0.2:
        return pick(TEST_CARDS)
    prefix, n = pick(CARD_BRANDS)
    body = prefix + rand_str(DIG, n - len(prefix) - 1)
    return body + luhn_digit(body)


def format_card(num):
    shape = R.randrange(4)
    if shape == 0:
        return num
    sep = " " if shape != 2 else "-"
    if len(num) == 15:
        return sep.join([num[:4], num[4:10], num[10:]])
    if len(num) == 14:
        return sep.join([num[:4], num[4:10], num[10:]])
    if len(num) == 19:
        return sep.join([num[0:4], num[4:8], num[8:12], num[12:16], num[16:]])
    return sep.join(num[i:i + 4] for i in range(0, 16, 4))


def card():
    return format_card(card_number())


def ssn():
    while True:
        area = R.randrange(1, 900)
        if area != 666:
            break
    return f"{area:03d}-{R.randrange(1, 100):02d}-{R.randrange(1, 10000):04d}"


NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"


def nino():
    while True:
        pre = pick(NINO_FIRST) + pick(NINO_SECOND)
        if pre not in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
            break
    d = rand_str(DIG, 6)
    suffix = pick("ABCD")
    if R.random() < 0.5:
        return f"{pre} {d[0:2]} {d[2:4]} {d[4:6]} {suffix}"
    return f"{pre}{d}{suffix}"


def nir():
    sex = pick("12")
    yy = f"{R.randrange(0, 100):02d}"
    mm = f"{R.randrange(1, 13):02d}"
    dept = pick([f"{R.randrange(1, 96):02d}", "75", "69", "2A", "2B", "13"])
    if dept == "20":
        dept = "21"
    commune = f"{R.randrange(1, 990):03d}"
    order = f"{R.randrange(1, 1000):03d}"
    base = sex + yy + mm + dept + commune + order
    numeric = base.replace("2A", "19").replace("2B", "18") if dept in ("2A", "2B") else base
    key = 97 - int(numeric) % 97
    k = f"{key:02d}"
    if R.random() < 0.5:
        return f"{sex} {yy} {mm} {dept} {commune} {order} {k}"
    return base + k


IBAN_COUNTRIES = {"DE": 22, "FR": 27, "GB": 22, "ES": 24, "IT": 27, "NL": 18, "BE": 16,
                  "AT": 20, "CH": 21, "PL": 28, "PT": 25, "IE": 22, "SE": 24, "NO": 15,
                  "DK": 18, "FI": 18, "LU": 20}


def iban_check(cc, bban):
    moved = bban + cc + "00"
    numeric = "".join(str(int(c, 36)) for c in moved)
    return f"{98 - int(numeric) % 97:02d}"


def iban_compact(cc=None):
    cc = cc or pick(sorted(IBAN_COUNTRIES))
    n = IBAN_COUNTRIES[cc] - 4
    if cc in ("GB", "IE", "NL"):
        bban = rand_str(UP, 4) + rand_str(DIG, n - 4)
    elif cc == "IT":
        bban = pick(UP) + rand_str(DIG, n - 1)
    else:
        bban = rand_str(DIG, n)
    return cc + iban_check(cc, bban) + bban


def iban():
    s = iban_compact()
    if R.random() < 0.6:
        return " ".join(s[i:i + 4] for i in range(0, len(s), 4))
    return s


# ---------------------------------------------------------------- secrets

def aws_key_id():
    return pick(["AKIA", "ASIA"]) + DEL + rand_str(UP + "234567", 16)


def aws_secret_value():
    v = mixed(ALNUM + "/+", 40)
    return v[:4] + DEL + v[4:]


def github_token():
    if R.random() < 0.3:
        return "github_pat_" + DEL + mixed(ALNUM, 22) + "_" + mixed(ALNUM, 59)
    return pick(["ghp_", "gho_", "ghs_", "ghu_"]) + DEL + mixed(ALNUM, 36)


def slack_token():
    if R.random() < 0.5:
        return ("xoxb-" + DEL + rand_str(DIG, 11) + "-" + rand_str(DIG, 13) + "-" +
                mixed(ALNUM, 24))
    return ("xoxp-" + DEL + rand_str(DIG, 10) + "-" + rand_str(DIG, 11) + "-" +
            rand_str(DIG, 12) + "-" + mixed("0123456789abcdef" + UP, 32))


def stripe_key():
    return pick(["sk_live_", "rk_live_"]) + DEL + mixed(ALNUM, pick([24, 34, 99]))


def google_oauth_secret():
    return "GOCSPX-" + DEL + mixed(B64URL, 28)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt():
    alg = pick(["HS256", "RS256", "ES256"])
    header = {"alg": alg, "typ": "JWT"}
    if alg != "HS256":
        header["kid"] = rand_str(LO + DIG, 12)
    payload = {"sub": str(R.randrange(10**6, 10**9)), "name": pick(FIRST).capitalize(),
               "iat": 1700000000 + R.randrange(10**7), "exp": 1800000000 + R.randrange(10**7)}
    sig_len = {"HS256": 43, "RS256": 342, "ES256": 86}[alg]
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(payload, separators=(",", ":")).encode())
    return h[:3] + DEL + h[3:] + "." + p + "." + rand_str(B64URL, sig_len)


def pem_block():
    kind = pick(["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED "])
    body = base64.b64encode(bytes(R.randrange(256) for _ in range(R.randrange(120, 700)))).decode()
    width = 70 if kind == "OPENSSH " else 64
    lines = [body[i:i + width] for i in range(0, len(body), width)]
    return (f"-----BEGIN {kind}PRIVATE{DEL} KEY-----\n" + "\n".join(lines) +
            f"\n-----END {kind}PRIVATE KEY-----")


def password_value():
    shape = R.randrange(4)
    if shape == 0:
        return mixed(ALNUM + "!#%^*-_.", R.randrange(10, 18))
    if shape == 1:
        return pick(["Summer", "Winter", "Dragon", "Monkey", "Sunshine", "Falcon"]) + \
            str(R.randrange(1990, 2030)) + pick("!#.*")
    if shape == 2:
        return pick(["Tr0ub4dor&3", "hunter2hunter2", "P@ssw0rd!2024", "letmein-42x", "Qwerty!234",
                     "c0rrect-h0rse-battery"])
    return rand_str(LO, 5) + rand_str(DIG, 3) + rand_str(UP, 2) + pick("!@#")


def password_snippet(doc):
    pw = password_value()
    shape = R.randrange(8)
    if shape == 0:
        s = f'conn = connect(host="db.internal", user="app", password="{pw}")'
    elif shape == 1:
        s = f"DB_HOST=db.internal\nDB_USER=app\nDB_PASSWORD={pw}\n"
    elif shape == 2:
        s = json.dumps({"username": "svc-report", "password": pw}, indent=2)
    elif shape == 3:
        s = f"My VPN login is {pick(FIRST)} and the password: {pw}"
    elif shape == 4:
        s = f"mysql -u admin --password={pw} -h 10.0.3.7 reports"
    elif shape == 5:
        s = f"spring.datasource.password={pw}"
    elif shape == 6:
        s = pick([f"smtp:\n  host: smtp.example.com\n  passwd: '{pw}'",
                  f"Identifiant : {pick(FIRST)}, mot de passe : {pw}", f"Passwort: {pw}"])
    else:
        s = f"ADMIN_PWD := \"{pw}\""
    return doc.add("secret", s, "password")


DB_SCHEMES = ["postgres", "postgresql", "mysql", "mongodb+srv", "redis", "amqp",
              "postgresql+psycopg2", "mariadb"]


def db_url(doc):
    scheme = pick(DB_SCHEMES)
    user = "" if scheme == "redis" else pick(["app", "admin", "root", "svc_orders", "guest"])
    pw = mixed(ALNUM, R.randrange(10, 24))
    host = pick(["db.prod.internal", "10.0.4.12", "cluster0.ab1cd.mongodb.net",
                 "orders-db.c9xyz.eu-west-1.rds.amazonaws.com", "cache.local", "rabbit"])
    port = {"redis": 6379, "amqp": 5672, "mysql": 3306, "mariadb": 3306}.get(scheme, 5432)
    path = "" if scheme.startswith("mongodb") else f":{port}"
    return doc.add("secret", f"{scheme}://{DEL}{user}:{pw}@{host}{path}/{pick(['orders', 'app', '0', 'shop'])}",
                   "db_url")


def secret_snippet(doc, which=None):
    which = which or pick(["aws_key_id", "aws_secret", "github", "slack", "stripe",
                           "google_oauth", "private_key", "jwt", "password", "db_url"])
    if which == "aws_key_id":
        return doc.add("secret", f"aws_access_key_id = {aws_key_id()}", "aws_key_id")
    if which == "aws_secret":
        if R.random() < 0.5:
            doc.add("secret", None, "aws_key_id")
            return doc.add("secret", "[default]\naws_access_key_id = " + aws_key_id() +
                           "\naws_secret_access_key = " + aws_secret_value() + "\n", "aws_secret")
        return doc.add("secret", pick(["export AWS_SECRET_ACCESS_KEY=",
                                       '"SecretAccessKey": "']) + aws_secret_value() +
                       pick(["", '"']), "aws_secret")
    if which == "github":
        if R.random() < 0.25:
            return doc.add("secret", "git remote set-url origin https://x-access-token:" +
                           github_token() + "@github.com/acme/app.git", "github")
        return doc.add("secret", pick(["GITHUB_TOKEN=", "token: ", "Authorization: token "]) +
                       github_token(), "github")
    if which == "slack":
        return doc.add("secret", pick(["SLACK_BOT_TOKEN=", "slack token ", "client = WebClient(token=\""]) +
                       slack_token() + pick(["", "\")"]), "slack")
    if which == "stripe":
        return doc.add("secret", pick(["stripe.api_key = \"", "STRIPE_SECRET_KEY=", "key: "]) +
                       stripe_key() + pick(["", "\""]), "stripe")
    if which == "google_oauth":
        return doc.add("secret", json.dumps({"web": {"client_id": f"{R.randrange(10**11, 10**12)}-"
                                                     f"{rand_str(LO + DIG, 32)}.apps.googleusercontent.com",
                                                     "client_secret": google_oauth_secret()}},
                                            ensure_ascii=False),
                       "google_oauth")
    if which == "private_key":
        return doc.add("secret", pem_block(), "private_key")
    if which == "jwt":
        return doc.add("secret", pick(["Authorization: Bearer ", "token=", "the JWT is ", "Cookie: session="]) +
                       jwt(), "jwt")
    if which == "password":
        return password_snippet(doc)
    return db_url(doc)


# ---------------------------------------------------------------- prose

TASKS = ["Summarize the following for a status update.",
         "Rewrite this more politely.",
         "Translate into French, keep the formatting.",
         "Find the bug in this snippet and explain it.",
         "Extract the action items as a bullet list.",
         "Draft a reply to this customer message.",
         "Classify this support ticket by urgency.",
         "Turn these notes into a short email.",
         "Check this config for mistakes.",
         "Explain this log output to a junior engineer."]

FILLER = ["The quarterly report is due on Friday and the numbers still need a second look.",
          "We migrated the billing service to the new cluster last week without downtime.",
          "Please keep the tone friendly but firm; the client has asked twice already.",
          "The build fails only on ARM runners, which suggests an alignment issue.",
          "Our team meets every Tuesday at 10:30 to review open incidents.",
          "Latency went from 120 ms to 340 ms after the cache was disabled.",
          "The draft mentions three options; we prefer the second one for cost reasons.",
          "Remember that the warranty covers parts but not labour.",
          "Version 2.14.3 fixed the crash, but 2.15.0-rc.1 brought it back.",
          "Ticket volume dropped 18% after we published the FAQ.",
          "The café on the corner — the one with the blue door — opens at 7:00.",
          "Naïve implementations copy the buffer twice; avoid that.",
          "He wrote: \"this is the last time\" and then reopened the issue anyway.",
          "Use tabs\tfor indentation in the Makefile, spaces elsewhere.",
          "Step 1: back up the data. Step 2: run the migration. Step 3: verify.",
          "Total: 3 items, 2 shipped, 1 back-ordered until mid-June.",
          "Temperature was set to 0.2 and top_p to 0.9 for the evaluation run.",
          "The meeting moved from room 4.12 to room 3.07 on the third floor."]


def filler(n):
    return " ".join(pick(FILLER) for _ in range(n))


def line_break():
    return pick(["\n", "\n\n", " ", "\n- ", "\t"])


CONTEXT = {
    "email": ["Contact: {v}", "Send it to {v} please.", "<{v}>", "cc {v}, thanks",
              "mailto:{v}", "Email:{v}", "reply-to: \"{v}\"", "the address ({v}) bounced"],
    "phone": ["Call me at {v}.", "Tel: {v}", "phone:{v}", "(mobile {v})", "Reach the desk on {v} after 9.",
              "emergency contact — {v}", "\"phone\": \"{v}\""],
    "card": ["My card number is {v}, expiry 08/27.", "card: {v}", "Charge {v} for the renewal.",
             "PAN={v}", "The customer read out {v} over the phone.", "\"card\": \"{v}\""],
    "ssn": ["SSN: {v}", "social security number {v}", "Employee SSN {v} is on file.", "ssn={v}"],
    "nino": ["NI number: {v}", "National Insurance {v}", "NINO {v}"],
    "nir": ["Numéro de sécurité sociale : {v}", "NIR {v}", "n° sécu: {v}"],
    "iban": ["IBAN: {v}", "Please wire it to {v} (BIC on request).", "iban={v}", "Account {v}"],
}


def pii_sentence(doc, kind):
    if kind == "email":
        v = doc.add("email", email())
    elif kind == "phone":
        v = doc.add("phone", phone())
    elif kind == "card":
        v = doc.add("card", card())
    elif kind == "iban":
        v = doc.add("iban", iban())
    else:
        sub = pick(["ssn", "nino", "nir"])
        v = doc.add("national_id", {"ssn": ssn, "nino": nino, "nir": nir}[sub]())
        return pick(CONTEXT[sub]).format(v=v)
    return pick(CONTEXT[kind]).format(v=v)


def record_snippet(doc):
    """Several PII values the way people paste them: a signature, CSV rows, a JSON record."""
    shape = R.randrange(3)
    name = f"{pick(FIRST).capitalize()} {pick(LAST).capitalize()}"
    if shape == 0:
        return (f"--\n{name}\nAccount Manager, Acme Corp\nM: {doc.add('phone', phone())} | "
                f"E: {doc.add('email', email())}\n")
    if shape == 1:
        rows = ["name,email,phone,plan"]
        for _ in range(R.randrange(2, 5)):
            rows.append(f"{pick(FIRST)} {pick(LAST)},{doc.add('email', email())},"
                        f"{doc.add('phone', phone())},{pick(['free', 'pro', 'team'])}")
        return "\n".join(rows)
    rec = {"customer": name, "email": doc.add("email", email()),
           "payment": {"card": doc.add("card", card()), "exp": f"{R.randrange(1, 13):02d}/{R.randrange(25, 31)}"},
           "iban": doc.add("iban", iban()), "notes": "VIP since 2019"}
    return json.dumps(rec, indent=pick([None, 2]), ensure_ascii=False)


# Formats the detectors deliberately do not cover (see docs/sensitivity.md): labelled truthfully,
# so they show up as misses in the measured recall.
def uncovered_positive(doc, shape):
    if shape == 0:
        return f"Büro: {doc.add('phone', f'030 {R.randrange(1000000, 99999999)}')}"
    if shape == 1:
        return f"call {doc.add('phone', '0044 20 7946 0' + str(R.randrange(100, 999)))} from abroad"
    if shape == 2:
        return f"SSN {doc.add('national_id', ssn().replace('-', ''))}"
    if shape == 3:
        return f"my ni number is {doc.add('national_id', nino().replace(' ', '').lower())}"
    if shape == 4:
        return f"wifi pass: {doc.add('secret', password_value(), 'password')}"
    if shape == 5:
        return f"Zugang: {pick(FIRST)} / {doc.add('secret', password_value(), 'password')}"
    return f"write to {doc.add('email', pick(FIRST) + ' at ' + pick(['example', 'acme-corp']) + ' dot com')}"


# ---------------------------------------------------------------- hard negatives

def uuid():
    h = rand_str("0123456789abcdef", 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{pick('89ab')}{h[17:20]}-{h[20:]}"


def luhn_invalid_card():
    while True:
        num = card_number()
        bad = num[:-1] + str((int(num[-1]) + R.randrange(1, 10)) % 10)
        if not luhn_ok(bad):
            return format_card(bad)


def seed_number(n):
    return str(R.randrange(1, 10)) + rand_str(DIG, n - 1)


def bad_iban():
    s = iban_compact()
    wrong = s[:2] + f"{(int(s[2:4]) + R.randrange(1, 90)) % 97 + 2:02d}"[-2:] + s[4:]
    if wrong[2:4] == s[2:4]:
        wrong = s[:2] + "00" + s[4:]
    return " ".join(wrong[i:i + 4] for i in range(0, len(wrong), 4))


def bad_nir():
    v = nir().replace(" ", "")
    key = (int(v[-2:]) + R.randrange(1, 90)) % 97 + 1
    return v[:-2] + f"{key:02d}"


def isbn13():
    body = "978" + rand_str(DIG, 9)
    total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body))
    return body + str((10 - total % 10) % 10)


NEGATIVES = {
    "luhn_invalid": lambda: pick(["Test with {v} — it should be rejected by the form.",
                                  "The field shows {v} which fails validation."]).format(v=luhn_invalid_card()),
    "order_numbers": lambda: pick([f"Order #{R.randrange(100, 999)}-{R.randrange(10**6, 10**7)}-{R.randrange(10**6, 10**7)} shipped.",
                                   f"Your order ORD-{R.randrange(2019, 2026)}-{R.randrange(0, 10**6):06d} is confirmed.",
                                   f"Tracking: 1Z{rand_str(UP + DIG, 16)}",
                                   f"USPS tracking 9400 {R.randrange(1000, 9999)} {R.randrange(1000, 9999)} {R.randrange(1000, 9999)} {R.randrange(1000, 9999)} {R.randrange(10, 99)}",
                                   f"FedEx {R.randrange(1000, 9999)} {R.randrange(1000, 9999)} {R.randrange(1000, 9999)}",
                                   f"invoice INV/{R.randrange(2020, 2026)}/{R.randrange(1, 99999):05d}"]),
    "isbn": lambda: pick([f"ISBN {isbn13()}", f"ISBN-13: 978-{R.randrange(0, 2)}-{R.randrange(100, 999)}-{R.randrange(10000, 99999)}-{R.randrange(0, 10)}",
                          f"see ISBN 0-{R.randrange(100, 999)}-{R.randrange(10000, 99999)}-{R.randrange(0, 10)}"]),
    "uuid": lambda: f"request {uuid()} failed; retry with idempotency key {uuid()}",
    "git_sha": lambda: f"commit {rand_str('0123456789abcdef', 40)} (short {rand_str('0123456789abcdef', 7)}) reverted {rand_str('0123456789abcdef', 12)}",
    "timestamps": lambda: pick([f"at {R.randrange(2019, 2026)}-{R.randrange(1, 13):02d}-{R.randrange(1, 29):02d}T{R.randrange(0, 24):02d}:{R.randrange(0, 60):02d}:{R.randrange(0, 60):02d}Z the job stalled",
                                f"epoch {R.randrange(1500000000, 1800000000)} / ms {R.randrange(1500000000000, 1800000000000)}",
                                f"ns timestamp {R.randrange(1500000000, 1800000000)}{rand_str(DIG, 9)}",
                                f"log line 20240501{R.randrange(100000, 235959)} INFO started",
                                f"between {R.randrange(1, 29):02d}/{R.randrange(1, 13):02d}/{R.randrange(2019, 2026)} and {R.randrange(1, 13)}.{R.randrange(1, 29)}.{R.randrange(2019, 2026)}"]),
    "versions": lambda: pick([f"upgrade from v{R.randrange(0, 20)}.{R.randrange(0, 40)}.{R.randrange(0, 100)} to {R.randrange(0, 20)}.{R.randrange(0, 40)}.{R.randrange(0, 100)}-rc.{R.randrange(1, 5)}",
                              f"node {R.randrange(14, 23)}.{R.randrange(0, 20)}.{R.randrange(0, 10)}, npm {R.randrange(6, 11)}.{R.randrange(0, 10)}.{R.randrange(0, 10)}",
                              f"kernel 6.{R.randrange(0, 12)}.{R.randrange(0, 80)}-{R.randrange(1, 200)}-generic build 1.{R.randrange(0, 9)}.{R.randrange(1000, 99999)}.{R.randrange(1000, 9999)}"]),
    "ips": lambda: pick([f"server {R.randrange(1, 255)}.{R.randrange(0, 255)}.{R.randrange(0, 255)}.{R.randrange(1, 255)}:{R.randrange(1024, 65535)} is down",
                         f"ping 2001:db8:{R.randrange(0, 9999):x}::{R.randrange(1, 999):x} and fe80::1ff:fe23:4567:890a",
                         f"CIDR 10.{R.randrange(0, 255)}.0.0/16 and 192.168.{R.randrange(0, 255)}.{R.randrange(0, 255)}/24"]),
    "prices": lambda: pick([f"Total ${R.randrange(1, 99)},{R.randrange(100, 999)}.{R.randrange(0, 99):02d} incl. tax",
                            f"€ {R.randrange(1, 999)},{R.randrange(0, 99):02d} per seat, {R.randrange(1, 9)} {R.randrange(100, 999)},00 € total",
                            f"USD {R.randrange(10000, 999999)}.{R.randrange(0, 99):02d} budget for FY{R.randrange(20, 30)}"]),
    "math": lambda: pick([f"2^64 = 18446744073709551616 and pi = 3.14159265358979323846",
                          f"{R.randrange(10**8, 10**9)} * {R.randrange(10**8, 10**9)} = ?",
                          f"e ≈ 2.718281828459045, sqrt(2) ≈ 1.4142135623730951",
                          f"x = {R.randrange(1, 99)} + {R.randrange(100, 999)} - {R.randrange(1000, 9999)} / {R.randrange(10, 99)}",
                          f"the matrix [[{R.random():.16f}, {R.random():.16f}], [{R.random():.16f}, 0.0]]"]),
    "code_password": lambda: pick(["password = os.environ[\"DB_PASSWORD\"]",
                                   "def login(user: str, password: str) -> bool:\n    return check(user, password)",
                                   "if password == confirm_password:\n    save()",
                                   "const password = process.env.DB_PASS;",
                                   "password: Optional[str] = Field(default=None, min_length=12)",
                                   "PASSWORD_MIN_LENGTH = 12",
                                   "{\"password\": \"<your password>\"}",
                                   "password=${DB_PASSWORD}",
                                   "db_url = f\"postgresql://{user}:{password}@{host}/app\"",
                                   "Reset your password: click the link we sent.",
                                   "password: ********",
                                   "self.password = getpass.getpass()",
                                   "password = config.db.password",
                                   "The password: is it stored hashed?"]),
    "placeholders": lambda: pick(["export GITHUB_TOKEN=ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
                                  "aws_access_key_id = AKIAXXXXXXXXXXXXXXXX",
                                  "STRIPE_KEY=sk_test_" + mixed(ALNUM, 24)[:0] + "your_key_here",
                                  "SLACK_BOT_TOKEN=xoxb-your-bot-token-here",
                                  "A PEM file starts with -----BEGIN PRIVATE" + DEL + " KEY----- and ends with the END line.",
                                  "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(bytes(R.randrange(256) for _ in range(90))).decode() + "\n-----END PUBLIC KEY-----",
                                  "-----BEGIN CERTIFICATE-----\n" + base64.b64encode(bytes(R.randrange(256) for _ in range(120))).decode() + "\n-----END CERTIFICATE-----",
                                  "DATABASE_URL=postgres://${PGUSER}:${PGPASSWORD}@${PGHOST}:5432/app",
                                  "postgres://localhost:5432/app (no credentials, uses peer auth)",
                                  "payload eyJmb28iOiJiYXIiLCJuIjoxfQ is base64 JSON, not a token"]),
    "email_like": lambda: pick(["ping @" + pick(FIRST) + " on Slack", "npm i @types/node @babel/core",
                                "user@localhost works only in dev", "see icon@2x.png and logo@3x.webp",
                                "git clone git@github.com:acme/app.git", "decorator @app.route('/x')",
                                "pip install package==1.2.3; lodash@4.17.21",
                                "twitter handle @" + pick(FIRST) + pick(LAST)]),
    "phone_like": lambda: pick([f"ext. {R.randrange(1000, 9999)}", "call 911 or 112", f"pages {R.randrange(100, 300)}-{R.randrange(301, 500)}",
                                f"zip {R.randrange(10000, 99999)}-{R.randrange(1000, 9999)}", f"open 8:00-17:00, score {R.randrange(0, 9)}-{R.randrange(0, 9)}",
                                f"room {R.randrange(100, 999)}, floor {R.randrange(1, 30)}", f"part no. {R.randrange(10, 99)}-{R.randrange(100, 999)}-{R.randrange(1000, 9999)}",
                                f"build {R.randrange(100, 999)}.{R.randrange(100, 999)}.{R.randrange(1000, 9999)}.{R.randrange(1, 9)}"]),
    "id_like": lambda: pick([f"SSN 666-{R.randrange(10, 99)}-{R.randrange(1000, 9999)} is invalid", f"000-{R.randrange(10, 99)}-{R.randrange(1000, 9999)} placeholder",
                             f"{R.randrange(100, 899)}-00-{R.randrange(1000, 9999)} has no group", "the format is QQ 12 34 56 C",
                             f"code AB{rand_str(DIG, 6)}E", f"NIR {bad_nir()} (wrong key)", f"IBAN {bad_iban()} (check digits wrong)",
                             f"SKU {rand_str(UP, 2)}{rand_str(DIG, 2)}{rand_str(UP + DIG, 10)}"]),
    "logs": lambda: pick([f"Segfault at 0x{rand_str('0123456789abcdef', 12)} ip 0x{rand_str('0123456789abcdef', 12)} sp 0x7ffd{rand_str('0123456789abcdef', 8)}",
                          f"pid={R.randrange(100, 99999)} tid={R.randrange(100, 99999)} latency_us={R.randrange(10**5, 10**8)} bytes={R.randrange(10**6, 10**10)}",
                          f"traceparent: 00-{rand_str('0123456789abcdef', 32)}-{rand_str('0123456789abcdef', 16)}-01",
                          f"[{R.randrange(2019, 2026)}-0{R.randrange(1, 9)}-1{R.randrange(0, 9)} 1{R.randrange(0, 9)}:2{R.randrange(0, 9)}:3{R.randrange(0, 9)},{R.randrange(100, 999)}] ERROR worker-{R.randrange(1, 64)} job {R.randrange(10**9, 10**12)} failed after {R.randrange(1, 9)} retries",
                          f"HTTP/1.1 {pick(['200', '404', '503'])} in {R.randrange(1, 999)}ms, content-length {R.randrange(100, 10**7)}"]),
    "hashes": lambda: pick([f"sha256:{rand_str('0123456789abcdef', 64)}", f"md5 {rand_str('0123456789abcdef', 32)}",
                            f"integrity=\"sha384-{base64.b64encode(bytes(R.randrange(256) for _ in range(48))).decode()}\"",
                            f"etag W/\"{rand_str('0123456789abcdef', 40)}\"", f"docker pull nginx@sha256:{rand_str('0123456789abcdef', 64)}"]),
    "urls": lambda: pick([f"https://www.example.com/search?q=test&page={R.randrange(1, 99)}&session={rand_str(LO + DIG, 24)}",
                          f"https://youtu.be/{rand_str(B64URL, 11)}?t={R.randrange(10, 999)}",
                          f"https://github.com/acme/app/pull/{R.randrange(100, 9999)}#discussion_r{R.randrange(10**8, 10**10)}",
                          f"https://maps.example.com/@{R.random() * 90:.7f},{R.random() * 180:.7f},{R.randrange(3, 20)}z",
                          f"s3://bucket-{R.randrange(1, 99)}/exports/2024/05/{uuid()}.parquet"]),
    "sql": lambda: pick([f"SELECT id, total FROM orders WHERE customer_id = {R.randrange(10**5, 10**9)} AND created_at > '2024-01-01' LIMIT 50;",
                         f"UPDATE accounts SET balance = balance - {R.randrange(1, 9999)}.{R.randrange(0, 99):02d} WHERE id = {R.randrange(10**12, 10**15)};",
                         "CREATE TABLE users (id BIGINT, email TEXT NOT NULL, password_hash TEXT, phone TEXT);",
                         "INSERT INTO t (a, b) VALUES (1234567890123, 9876543210987);"]),
    "k8s": lambda: pick(["env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-secret\n        key: password\n",
                         f"image: registry.example.com/app:{R.randrange(1, 9)}.{R.randrange(0, 30)}.{R.randrange(0, 99)}\nreplicas: {R.randrange(1, 9)}\nresources:\n  limits:\n    memory: {R.randrange(128, 4096)}Mi\n    cpu: {R.randrange(100, 4000)}m",
                         "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\ndata:\n  password: <base64-encoded>\n"]),
    "csv_numbers": lambda: "date,region,units,revenue\n" + "\n".join(
        f"2024-0{R.randrange(1, 9)}-{R.randrange(10, 28)},{pick(['EMEA', 'APAC', 'AMER'])},{R.randrange(1, 99999)},{R.randrange(1000, 9999999)}.{R.randrange(0, 99):02d}"
        for _ in range(R.randrange(3, 8))),
    "seeds": lambda: pick([f"use seed {seed_number(R.randrange(13, 20))} for reproducibility",
                           f"random_state={seed_number(R.randrange(10, 20))}",
                           f"the id is {seed_number(R.randrange(13, 20))}"]),
}


# ---------------------------------------------------------------- bodies

MODELS = {"openai": ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "o3-mini"],
          "anthropic": ["claude-3-5-sonnet-20241022", "claude-3-haiku-20240307", "claude-sonnet-4-20250514"],
          "gemini": ["gemini-1.5-pro", "gemini-2.0-flash"]}


def image_b64(nbytes):
    return base64.b64encode(bytes(R.randrange(256) for _ in range(nbytes))).decode()


def structure_noise(d, provider):
    """JSON fields a client adds: numbers, ids, timestamps. Never labelled (outside strings)."""
    if R.random() < 0.5:
        if R.random() < 0.3:
            d["seed"] = int(card_number() if R.random() < 0.5 else seed_number(R.randrange(13, 20)))
        else:
            d["seed"] = R.randrange(0, 2**31)
    if provider == "openai":
        if R.random() < 0.5:
            d["user"] = uuid()
        if R.random() < 0.3:
            d["metadata"] = {"request_id": rand_str("0123456789abcdef", 32),
                             "ts": R.randrange(1500000000000, 1800000000000)}
    elif provider == "anthropic" and R.random() < 0.5:
        d["metadata"] = {"user_id": rand_str("0123456789abcdef", 64)}


def tools_schema():
    return [{"type": "function", "function": {
        "name": "create_account", "description": "Create a user account",
        "parameters": {"type": "object", "properties": {
            "email": {"type": "string", "format": "email"},
            "password": {"type": "string", "minLength": 12},
            "phone": {"type": "string", "pattern": "^\\+[1-9][0-9]{7,14}$"}},
            "required": ["email", "password"]}}}]


def make_body(texts, image=0):
    provider = pick(["openai", "openai", "anthropic", "gemini"])
    model = pick(MODELS[provider])
    system = pick(["You are a helpful assistant.", "You are a concise technical writer.",
                   "Answer in the user's language. Today is 2024-05-01."])
    if provider == "openai":
        msgs = [{"role": "system", "content": system}]
        for i, t in enumerate(texts):
            role = "user" if i % 2 == 0 or i == len(texts) - 1 else "assistant"
            msgs.append({"role": role, "content": t})
        if image:
            msgs[-1] = {"role": "user", "content": [
                {"type": "text", "text": msgs[-1]["content"]},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64," + image_b64(image)}}]}
        d = {"model": model, "messages": msgs, "temperature": round(R.random(), 2),
             "max_tokens": pick([256, 1024, 4096])}
        if R.random() < 0.15:
            d["tools"] = tools_schema()
        if R.random() < 0.2:
            d["stream"] = True
            d["stream_options"] = {"include_usage": True}
    elif provider == "anthropic":
        msgs = []
        for i, t in enumerate(texts):
            role = "user" if i % 2 == 0 or i == len(texts) - 1 else "assistant"
            msgs.append({"role": role, "content": [{"type": "text", "text": t}]})
        if image:
            msgs[-1]["content"].insert(0, {"type": "image", "source": {
                "type": "base64", "media_type": "image/jpeg", "data": image_b64(image)}})
        d = {"model": model, "max_tokens": pick([1024, 4096, 8192]), "system": system, "messages": msgs}
    else:
        contents = []
        for i, t in enumerate(texts):
            role = "user" if i % 2 == 0 or i == len(texts) - 1 else "model"
            contents.append({"role": role, "parts": [{"text": t}]})
        if image:
            contents[-1]["parts"].append({"inline_data": {"mime_type": "image/png", "data": image_b64(image)}})
        d = {"contents": contents, "systemInstruction": {"parts": [{"text": system}]},
             "generationConfig": {"temperature": round(R.random(), 2), "maxOutputTokens": pick([512, 2048, 8192])}}
    structure_noise(d, provider)
    indent = pick([None, None, 2])
    text = json.dumps(d, ensure_ascii=pick([True, False]), indent=indent)
    return text.replace("\\u007f", DEL)


def prompt(parts):
    """A user prompt: a task line, the parts in between filler, random line breaks."""
    out = [pick(TASKS)]
    for p in parts:
        if R.random() < 0.6:
            out.append(filler(R.randrange(1, 3)))
        out.append(p)
    if R.random() < 0.5:
        out.append(filler(1))
    return "".join(x + line_break() for x in out).strip()


def split_turns(text):
    """Sometimes make it a conversation: earlier turns are PII-free filler."""
    turns = [filler(R.randrange(1, 3)) for _ in range(R.randrange(0, 3) * 2)]
    return turns + [text]


def main():
    samples = []

    def emit(category, doc, parts, image=0):
        samples.append((category, doc, make_body(split_turns(prompt(parts)), image)))

    kinds = ["email", "phone", "card", "national_id", "iban"]
    # single-kind positives, one to three occurrences
    for kind in kinds:
        for _ in range(28):
            doc = Doc()
            parts = [pii_sentence(doc, kind) for _ in range(pick([1, 1, 1, 2, 3]))]
            emit("pos_" + kind, doc, parts)
    for which in ["aws_key_id", "aws_secret", "github", "slack", "stripe", "google_oauth",
                  "private_key", "jwt", "password", "db_url"]:
        for _ in range(6):
            doc = Doc()
            emit("pos_secret_" + which, doc, [secret_snippet(doc, which)])
    # mixed positives
    for _ in range(70):
        doc = Doc()
        parts = []
        for _ in range(R.randrange(2, 5)):
            if R.random() < 0.25:
                parts.append(secret_snippet(doc))
            else:
                parts.append(pii_sentence(doc, pick(kinds)))
        if R.random() < 0.4:
            parts.append(NEGATIVES[pick(sorted(NEGATIVES))]())
        emit("mixed", doc, parts, image=pick([0, 0, 0, 4000]))
    # records and formats outside the detectors' coverage
    for _ in range(24):
        doc = Doc()
        emit("pos_record", doc, [record_snippet(doc)])
    for shape in range(7):
        doc = Doc()
        emit("pos_uncovered", doc, [uncovered_positive(doc, shape)])
    # hard negatives
    for cat in sorted(NEGATIVES):
        for _ in range(12):
            doc = Doc()
            emit("neg_" + cat, doc, [NEGATIVES[cat]() for _ in range(R.randrange(1, 4))])
    # plain prompts and structure-heavy bodies
    for _ in range(25):
        emit("neg_plain", Doc(), [filler(R.randrange(2, 6))])
    for _ in range(6):
        emit("neg_image", Doc(), [filler(1)], image=R.randrange(10000, 30000))
    emit("neg_image_large", Doc(), [filler(1)], image=240000)
    doc = Doc()
    emit("pos_image_large", doc, [pii_sentence(doc, "email"), pii_sentence(doc, "card")], image=200000)

    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    lines = []
    for i, (cat, doc, body) in enumerate(samples):
        name = f"{i:04d}_{cat}.json"
        with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="") as fh:
            fh.write(body)
        kinds_s = ",".join(f"{k}={n}" for k, n in sorted(doc.kinds.items())) or "-"
        secrets_s = "+".join(sorted(doc.secrets)) or "-"
        lines.append(f"{name} {kinds_s} {secrets_s}")
    with open(os.path.join(OUT, "MANIFEST"), "w") as fh:
        fh.write("# file kinds(kind=occurrences) secret-types; generated by test/sens/gen_corpus.py\n")
        fh.write("\n".join(lines) + "\n")
    print(f"{len(samples)} samples written to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
