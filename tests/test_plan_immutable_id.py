"""GUID <-> ImmutableId conversion against published pairs, plus round trips for any GUID."""

from __future__ import annotations

import base64
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from migrator.errors import MigratorError
from migrator.plan.immutable_id import (
    IdentifierError,
    canonical_guid,
    guid_from_immutable_id,
    immutable_id_from_guid,
)

# Published pairs, each computed by their authors with
# [Convert]::ToBase64String(([guid]'...').ToByteArray()) in PowerShell:
PUBLISHED = [
    # https://scripting.up-in-the.cloud/aadc/convert-a-guid-into-a-base64-encoded-string.html
    ("3ab39606-c642-489b-84b6-58c038d3ef39", "BpazOkLGm0iEtljAONPvOQ=="),
    # http://blog.ilmbestpractices.com/2011/12/guids-to-octets-guids-to-base64-strings.html
    # (and its 2012 follow-up "Revisiting GUIDs, Octets and Base64")
    ("8c4ac332-975f-4717-ad7b-ba4a4e968fff", "MsNKjF+XF0ete7pKTpaP/w=="),
    # Stack Overflow question "base64 to guid to base64" (guidtobase64 with ToByteArray()),
    # mirrored at https://cloudaffaire.com/scripting/base64-to-guid-to-base64/ and
    # https://manongdao.com/article-2188381.html; upper-case GUID as the question wrote it
    ("53E32701-9863-DE11-BD66-0015178A5E3C", "ASfjU2OYEd69ZgAVF4pePA=="),
]


@pytest.mark.parametrize(("guid", "immutable_id"), PUBLISHED)
def test_published_pairs(guid: str, immutable_id: str) -> None:
    assert immutable_id_from_guid(guid) == immutable_id
    assert guid_from_immutable_id(immutable_id) == guid.lower()


def test_published_byte_order_example() -> None:
    # http://sozluk.cozumpark.com/goster.aspx?id=3757&kelime=immutableiD gives the objectGUID as its
    # stored bytes "44 31 E2 46 77 83 3E 48 A8 7E B6 76 9D B6 2E ED" and the ImmutableId
    # "RDHiRneDPkiofrZ2nbYu7Q==": the ImmutableId is the base64 of the bytes as stored, which
    # .NET shows as the GUID 46e23144-8377-483e-a87e-b6769db62eed (first three fields reversed).
    assert (
        guid_from_immutable_id("RDHiRneDPkiofrZ2nbYu7Q==") == "46e23144-8377-483e-a87e-b6769db62eed"
    )
    assert base64.b64decode("RDHiRneDPkiofrZ2nbYu7Q==").hex(" ").upper() == (
        "44 31 E2 46 77 83 3E 48 A8 7E B6 76 9D B6 2E ED"
    )


@pytest.mark.parametrize(
    "form",
    [
        "3ab39606-c642-489b-84b6-58c038d3ef39",
        "3AB39606-C642-489B-84B6-58C038D3EF39",
        "{3ab39606-c642-489b-84b6-58c038d3ef39}",
        "{3AB39606-C642-489B-84B6-58C038D3EF39}",
        "(3ab39606-c642-489b-84b6-58c038d3ef39)",
        "3ab39606c642489b84b658c038d3ef39",
        "  3ab39606-c642-489b-84b6-58c038d3ef39\n",
    ],
)
def test_usual_guid_forms(form: str) -> None:
    assert immutable_id_from_guid(form) == "BpazOkLGm0iEtljAONPvOQ=="
    assert canonical_guid(form) == "3ab39606-c642-489b-84b6-58c038d3ef39"


def test_immutable_id_without_padding() -> None:
    assert (
        guid_from_immutable_id("BpazOkLGm0iEtljAONPvOQ") == "3ab39606-c642-489b-84b6-58c038d3ef39"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "3ab39606-c642-489b-84b6-58c038d3ef3",  # 31 digits
        "3ab39606-c642-489b-84b6-58c038d3ef39a",
        "3ab39606-c642-489b-84b6-58c038d3ef3g",
        "{3ab39606-c642-489b-84b6-58c038d3ef39",
        "3ab3-9606c642-489b-84b6-58c038d3ef39",
        "not a guid",
    ],
)
def test_malformed_guid(bad: str) -> None:
    with pytest.raises(IdentifierError) as info:
        immutable_id_from_guid(bad)
    assert str(info.value) == (
        f"'{bad}' is not a GUID; expected 32 hexadecimal digits such as "
        "3ab39606-c642-489b-84b6-58c038d3ef39, with or without hyphens and braces"
    )
    assert isinstance(info.value, ValueError) and isinstance(info.value, MigratorError)


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("BpazOkLGm0iEtljAONPvOQ=", "is not an ImmutableId;"),  # wrong padding
        ("BpazOkLGm0iEtljAONPvOR==", "is not an ImmutableId;"),  # non-zero trailing bits
        ("BpazOkLGm0iEtljAONPv$Q==", "is not an ImmutableId;"),
        ("AAAA", "decodes to 3 bytes, not 16"),
        ("am9obi5kb2VAY29udG9zby5jb20=", "decodes to 20 bytes, not 16"),
        ("", "decodes to 0 bytes, not 16"),
    ],
)
def test_malformed_immutable_id(bad: str, fragment: str) -> None:
    with pytest.raises(IdentifierError) as info:
        guid_from_immutable_id(bad)
    message = str(info.value)
    assert message.startswith(f"'{bad}' is not an ImmutableId")
    assert fragment in message
    assert message.endswith("such as BpazOkLGm0iEtljAONPvOQ==")


@given(st.uuids())
def test_round_trip_any_guid(value: uuid.UUID) -> None:
    immutable_id = immutable_id_from_guid(str(value))
    assert len(immutable_id) == 24 and immutable_id.endswith("==")
    assert base64.b64decode(immutable_id) == value.bytes_le
    assert guid_from_immutable_id(immutable_id) == str(value)
    assert immutable_id_from_guid("{" + str(value).upper() + "}") == immutable_id


@given(st.binary(min_size=16, max_size=16))
def test_round_trip_any_immutable_id(data: bytes) -> None:
    immutable_id = base64.b64encode(data).decode()
    assert immutable_id_from_guid(guid_from_immutable_id(immutable_id)) == immutable_id
