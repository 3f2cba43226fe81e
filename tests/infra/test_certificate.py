"""TlsCertificate: DNS validation records in the given zone, ARN only after validation."""

from __future__ import annotations

import pytest

from components.aws.certificate import TlsCertificate, TlsCertificateArgs
from ops.offline import Recording, run_program


def _run(args: TlsCertificateArgs) -> Recording:
    def program() -> None:
        import pulumi

        component = TlsCertificate("api", args)
        pulumi.export("certificate_arn", component.certificate_arn)

    return run_program("dev", program=program, use_stack_file=False)


def test_certificate_is_dns_validated_through_the_hosted_zone() -> None:
    recording = _run(TlsCertificateArgs(domain="api.example.com", hosted_zone_id="Z0TEST"))
    certificate = recording.one("aws:acm/certificate:Certificate")
    assert certificate.inputs["domainName"] == "api.example.com"
    assert certificate.inputs["validationMethod"] == "DNS"

    record = recording.one("aws:route53/record:Record")
    assert record.inputs["zoneId"] == "Z0TEST"
    assert record.inputs["name"] == "_x1.api.example.com."
    assert record.inputs["type"] == "CNAME"
    assert record.inputs["records"] == ["_x2.acm-validations.aws."]

    validation = recording.one("aws:acm/certificateValidation:CertificateValidation")
    assert validation.inputs["certificateArn"] == certificate.outputs["arn"]


def test_certificate_arn_comes_from_the_validation() -> None:
    recording = _run(TlsCertificateArgs(domain="api.example.com", hosted_zone_id="Z0TEST"))
    validation = recording.one("aws:acm/certificateValidation:CertificateValidation")
    assert recording.outputs["certificate_arn"] == validation.outputs["certificateArn"]
    # The validation is a child of the component, so listeners depending on the ARN wait for it.
    assert validation.name == "api-validation"


def test_wildcard_of_the_domain_shares_its_validation_record() -> None:
    recording = _run(
        TlsCertificateArgs(
            domain="api.example.com",
            hosted_zone_id="Z0TEST",
            subject_alternative_names=("*.api.example.com",),
        )
    )
    assert len(recording.of_type("aws:route53/record:Record")) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"domain": "https://api.example.com"}, "not a lower-case DNS name"),
        ({"domain": "API.example.com"}, "not a lower-case DNS name"),
        ({"domain": "api.example.com", "key_algorithm": "DSA"}, "key_algorithm"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(
    kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TlsCertificateArgs(hosted_zone_id="Z0TEST", **kwargs)
