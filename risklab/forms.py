"""The lab launch form: every number a browser sends is bounded or must name a row the user may see."""

from django import forms

from audit.bounds import MAX_SEED
from audit.selectors import deployment_list_visible

from . import selectors


class LabStartForm(forms.Form):
    dataset = forms.TypedMultipleChoiceField(coerce=int, required=False)
    deployment = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    seed = forms.IntegerField(min_value=0, max_value=MAX_SEED, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [
            (d.pk, d.name) for d in selectors.dataset_list_visible(user=user).only("pk", "name")
        ]
        self.fields["deployment"].choices = [("", "(no deployment)")] + [
            (d.pk, d.name) for d in deployment_list_visible(user=user).only("pk", "name")
        ]

    def one_line_errors(self) -> str:
        return "; ".join(f"{name}: {' '.join(errors)}" for name, errors in self.errors.items())
