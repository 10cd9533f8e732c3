"""Issue 16, item 5: one lockout counter per account whatever the spelling; usernames NFKC and of
one script; the admin's own password pages lead to the policy's page or do not exist."""

import pytest
from axes.models import AccessAttempt

from accounts import lockout
from accounts.models import Role, User
from accounts.usernames import username_normalize, username_problem
from tenants.context import tenant_context
from tests.conftest import PASSWORD, HttpsApiClient

WRONG = "wrong-password-1"
# The look-alikes, spelled out (a reader cannot tell them apart from the letters they mimic).
LONG_S = "\u017f"  # LATIN SMALL LETTER LONG S: PostgreSQL's upper() makes it S
DOTLESS_I = "\u0131"  # LATIN SMALL LETTER DOTLESS I: upper() makes it I
CYRILLIC_A = "\u0430"
CYRILLIC_COPA = "\u0441\u043e\u0440\u0430"  # es, o, er, a: reads as "copa"
GREEK_ABE = "\u0391\u0392\u0395"  # capital alpha, beta, epsilon: reads as "ABE"
FI_LIGATURE = "\ufb01"


def full_width(text: str) -> str:
    return "".join(chr(ord(char) + 0xFEE0) for char in text)


def sign_in(username: str, password: str = PASSWORD):
    body = {"tenant": "alice-chain", "username": username, "password": password}
    return HttpsApiClient().post("/api/v1/auth/token/", body)


def test_long_s_cannot_get_its_own_counter_for_sam(cast_a, tenant_a):
    """PostgreSQL's upper() of "sam" with a long s is SAM, so that spelling signs in as sam; its
    failures count on sam's counter (the key is sam's primary key), not on a counter of its own."""
    spellings = [f"{LONG_S}am", "SAM", full_width("sam"), "Sam", f"{LONG_S}AM"]
    for attempt in range(10):  # the store manager's role locks after ten
        assert sign_in(spellings[attempt % len(spellings)], WRONG).status_code == 401
    answer = sign_in("sam")
    assert answer.status_code == 429 and answer.json()["code"] == "locked_out"
    assert sign_in(f"{LONG_S}am").json()["code"] == "locked_out"
    with tenant_context(tenant_a):
        keys = set(AccessAttempt.objects.values_list("username", flat=True))
        sam = User.objects.get(username="sam")
    assert keys == {f"{tenant_a.pk.hex}:user:{sam.pk}"}


def test_dotless_i_signs_in_as_ivy_and_shares_her_counter(cast_a, tenant_a):
    """NFKC keeps the dotless i, but the database folds it to I: the lookup finds ivy, and so does
    the key (Python's lower() would have given that spelling a counter of its own)."""
    dotless = f"{DOTLESS_I}vy"
    assert username_normalize(dotless) == dotless and dotless.lower() != "ivy"
    for attempt in range(10):
        sign_in(dotless if attempt % 2 else "IVY", WRONG)
    assert sign_in("ivy").json()["code"] == "locked_out"


def test_an_unknown_name_has_one_counter_as_the_database_folds_it(tenant_a):
    with tenant_context(tenant_a):
        assert lockout.lockout_key_for(username=f"b{DOTLESS_I}ll") == lockout.lockout_key_for(username="BILL")
        assert lockout.lockout_key_for(username=f"{LONG_S}tranger") == lockout.lockout_key_for(
            username="Stranger"
        )
        assert lockout.lockout_key_for(username="a\x00b").endswith(":name:A\ufffdB")
    for name in (f"b{DOTLESS_I}ll", "BILL", "bill", "Bill"):
        sign_in(name, WRONG)
    with tenant_context(tenant_a):
        assert set(AccessAttempt.objects.values_list("username", flat=True)) == {
            f"{tenant_a.pk.hex}:name:BILL"
        }


def test_a_nul_in_the_username_is_a_bad_request_on_the_api(cast_a):
    answer = sign_in("sa\x00m")
    assert answer.status_code == 400 and "username" in answer.json()["fields"]


def test_a_nul_in_the_username_is_an_ordinary_refusal_on_the_web(cast_a, web):
    answer = web().post("/login/", {"username": "sa\x00m", "password": PASSWORD}, secure=True)
    assert answer.status_code == 200 and b"Wrong username or password" in answer.content


def test_a_full_width_or_long_s_spelling_signs_in_as_the_user(cast_a):
    assert sign_in(full_width("sam")).status_code == 201
    assert sign_in(f"{LONG_S}am").status_code == 201


def cashier_role(tenant) -> str:
    with tenant_context(tenant):
        return str(Role.objects.get(builtin="cashier").pk)


def create(api, owner, username):
    return api(owner).post(
        "/api/v1/users/",
        {"username": username, "password": "a-strong-password-77", "roles": [cashier_role(owner.tenant)]},
    )


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (f"{LONG_S}usan", "susan"),
        (full_width("tero"), "tero"),
        (f"{FI_LIGATURE}ona", "fiona"),
        ("Мария", "Мария"),
        ("さくら", "さくら"),
        ("jörg.o-1", "jörg.o-1"),
    ],
)
def test_usernames_are_stored_in_nfkc(cast_a, api, tenant_a, typed, stored):
    answer = create(api, cast_a["owner"], typed)
    assert answer.status_code == 201, answer.content
    assert answer.json()["username"] == stored


@pytest.mark.parametrize(
    "username",
    [
        f"s{CYRILLIC_A}m",  # a Cyrillic a among Latin letters
        CYRILLIC_COPA,  # all Cyrillic, every letter a Latin look-alike
        GREEK_ABE,  # all Greek look-alikes
        "adm1n\u0661",  # an Arabic-Indic digit
        "with space",
        "tab\tname",
        "nul\x00name",
        "emoji🙂",
        "x" * 151,
        "x" * 10_000,
        "",
    ],
)
def test_confusable_or_malformed_usernames_are_refused(cast_a, api, tenant_a, username):
    with tenant_context(tenant_a):
        before = User.objects.count()
    answer = create(api, cast_a["owner"], username)
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == "invalid" and "username" in answer.json()["fields"]
    with tenant_context(tenant_a):
        assert User.objects.count() == before


def test_a_nfkc_twin_of_an_existing_user_is_a_duplicate(cast_a, api):
    answer = create(api, cast_a["owner"], f"{LONG_S}am")
    assert answer.status_code == 400 and "username" in answer.json()["fields"]


def test_the_rule_itself():
    assert username_problem("alice") is None
    assert username_problem("Ölli_77@shop") is None
    assert username_problem("\u041f\u0430\u0432\u0435\u043b") is None  # Cyrillic, not all look-alikes
    assert "one script" in username_problem(f"p{CYRILLIC_A}vel")
    assert "Latin" in username_problem(CYRILLIC_COPA)
    assert "plain form" in username_problem(FI_LIGATURE)


def test_the_admins_password_change_leads_to_the_policys_page(cast_a, web):
    browser = web(cast_a["owner"])
    answer = browser.get("/admin/password_change/", secure=True)
    assert answer.status_code == 302 and answer["Location"] == "/account/password/"
    posted = browser.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": "short", "new_password2": "short"},
        secure=True,
    )
    assert posted.status_code == 302 and posted["Location"] == "/account/password/"
    done = browser.get("/admin/password_change/done/", secure=True)
    assert done.status_code == 302 and done["Location"] == "/account/"
    with tenant_context(cast_a["owner"].tenant):
        assert User.objects.get(pk=cast_a["owner"].pk).check_password(PASSWORD)


@pytest.mark.parametrize(
    "path",
    [
        "/admin/password_reset/",
        "/admin/password_reset/done/",
        "/admin/reset/MQ/set-password/",
        "/admin/reset/done/",
    ],
)
def test_the_admin_has_no_password_reset(cast_a, web, path):
    assert web(cast_a["owner"]).get(path, secure=True).status_code == 404
    anonymous = web().get(path, secure=True)
    assert anonymous.status_code in (302, 404)
    if anonymous.status_code == 302:  # to the sign-in, never to a reset form
        assert anonymous["Location"].startswith(("/login/", "/admin/login/"))
    login = web().get("/admin/login/", secure=True)
    assert login.status_code == 302 and login["Location"].startswith("/login/")
