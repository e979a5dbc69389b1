"""Signed Message-IDs and subject case tags: only our own, unaltered ids name a case."""

from __future__ import annotations

from uuid import UUID

import pytest

from integrations.email.case_tags import case_ref, case_tag, find_case_ref, matches, reply_subject
from integrations.email.message_ids import (
    case_from_thread,
    case_of_own_id,
    outbound_message_id,
    verify_reference,
)

CASE = UUID("1a2b3c4d-5e6f-4a0b-8c0d-112233445566")
OTHER = UUID("99999999-5e6f-4a0b-8c0d-112233445566")
SECRET = "s3cret"


def own_id(case_id: UUID = CASE, nonce: str = "0f1e") -> str:
    return outbound_message_id(case_id, nonce=nonce, secret=SECRET, domain="carelog.example")


def test_an_outbound_id_is_deterministic_and_names_its_case():
    message_id = own_id()
    assert message_id == own_id()
    assert message_id.startswith(f"case.{CASE.hex}.0f1e.")
    assert message_id.endswith("@carelog.example")
    assert verify_reference(message_id, SECRET) == CASE
    assert verify_reference(f"<{message_id}>", SECRET) == CASE
    assert case_of_own_id(message_id) == CASE


def test_a_forged_or_altered_id_names_no_case():
    message_id = own_id()
    _, case_hex, nonce, mac_and_domain = message_id.split(".", 3)
    mac, domain = mac_and_domain.split("@")
    assert verify_reference(message_id, "another secret") is None
    assert verify_reference(f"case.{OTHER.hex}.{nonce}.{mac}@{domain}", SECRET) is None
    assert verify_reference(f"case.{case_hex}.0f1f.{mac}@{domain}", SECRET) is None
    assert verify_reference(f"case.{case_hex}.{nonce}.{'a' * 32}@{domain}", SECRET) is None
    assert verify_reference("CAFk3=mT9@mail.gmail.example", SECRET) is None
    assert verify_reference("", SECRET) is None


def test_the_thread_is_searched_newest_first_and_skips_foreign_ids():
    older, newer = own_id(OTHER, "1"), own_id(CASE, "2")
    forged = f"case.{OTHER.hex}.3.{'0' * 32}@carelog.example"
    assert case_from_thread(("a@x", older, newer, forged), SECRET) == CASE
    assert case_from_thread(("a@x", forged), SECRET) is None


def test_nonce_and_secret_are_checked():
    with pytest.raises(ValueError, match="nonce"):
        outbound_message_id(CASE, nonce="no spaces", secret=SECRET, domain="x")
    with pytest.raises(ValueError, match="secret"):
        outbound_message_id(CASE, nonce="1", secret="", domain="x")


def test_case_tags_round_trip_through_subjects():
    assert case_ref(CASE) == "CL-1A2B3C4D"
    assert case_tag(CASE) == "[CL-1A2B3C4D]"
    assert find_case_ref("AW: Re: Login [cl-1a2b3c4d] failing") == "CL-1A2B3C4D"
    assert find_case_ref("[ CL-1A2B3C4D ]") == "CL-1A2B3C4D"
    assert find_case_ref("CL-1A2B3C4D without brackets") is None
    assert find_case_ref("[CL-1A2B3C] too short") is None
    assert find_case_ref(None) is None
    assert matches("CL-1a2b3c4d", CASE)
    assert not matches("CL-1A2B3C4D", OTHER)


@pytest.mark.parametrize(("subject", "expected"), [
    ("Login failing", "Re: Login failing [CL-1A2B3C4D]"),
    ("Re: AW: Login failing [CL-1A2B3C4D]", "Re: Login failing [CL-1A2B3C4D]"),
    ("RE[2]: SV: Login", "Re: Login [CL-1A2B3C4D]"),
    (None, "Re: Your request [CL-1A2B3C4D]"),
])
def test_reply_subjects_carry_one_re_and_one_tag(subject: str | None, expected: str):
    assert reply_subject(subject, CASE) == expected
