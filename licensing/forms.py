"""Licensing page forms: they check the shape of what was typed; the services decide the rest."""

from django import forms

from licensing.core.fingerprint import CONTAINER_POLICY, DEFAULT_POLICY, POLICIES
from licensing.core.license_file import STAGES


class CustomerForm(forms.Form):
    name = forms.CharField(max_length=200)


class UploadForm(forms.Form):
    request_file = forms.FileField(label="Request file (req.json)")
    label = forms.CharField(max_length=200, required=False, label="Device label")
    confirm_digest = forms.CharField(
        max_length=103,
        required=False,
        label="Foreign request: digest confirmed with the device",
        help_text="Only for a request from another installation: the request digest the device printed.",
    )


class ApproveForm(forms.Form):
    edition = forms.RegexField(regex=r"^[a-z0-9][a-z0-9_.-]{0,63}$", initial="standard", max_length=64)
    features = forms.CharField(required=False, help_text="comma-separated names, e.g. paper-labs")
    stages = forms.MultipleChoiceField(
        choices=[(s, s) for s in STAGES], widget=forms.CheckboxSelectMultiple, initial=["demo", "paper"]
    )
    valid_days = forms.IntegerField(min_value=1, max_value=3650, initial=365)
    max_activations = forms.IntegerField(min_value=1, max_value=1000, initial=1)
    allow_virtual = forms.BooleanField(required=False, label="License a VM/container device")
    match_policy = forms.ChoiceField(
        choices=[(name, name) for name in POLICIES],
        initial=DEFAULT_POLICY.name,
        required=False,
        help_text=f"{CONTAINER_POLICY.name} for containers and small VPSs (two stable components)",
    )
    reissue = forms.BooleanField(required=False, label="Reissue: replace the device's active license")

    def clean_features(self) -> list[str]:
        return [f.strip() for f in self.cleaned_data["features"].split(",") if f.strip()]


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500)


class AssignAdminForm(forms.Form):
    username = forms.CharField(max_length=150)
