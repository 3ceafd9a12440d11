from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from audit import api as audit_api
from audit import views as audit_views
from audit import views_checklists as checklist_views
from delivery import urls as delivery_urls
from jobs import api as jobs_api
from licensing import urls as licensing_urls
from risklab import api as risklab_api
from risklab import views as risklab_views

from . import api, metrics, views
from .throttle import throttle_login_posts

handler400 = "oemconsole.errors.bad_request"
handler403 = "oemconsole.errors.permission_denied"
handler404 = "oemconsole.errors.page_not_found"
handler500 = "oemconsole.errors.server_error"

api_v1 = [
    path("licensing/", include(licensing_urls.api_urlpatterns)),
    path("bundles/", include(delivery_urls.api_urlpatterns)),
    path("auth/token/", api.TokenIssueApi.as_view(), name="api-token"),
    path("auth/tokens/<int:pk>/revoke/", api.TokenRevokeApi.as_view(), name="api-token-revoke"),
    path("me/", api.MeApi.as_view(), name="api-me"),
    path("deployments/", audit_api.DeploymentListApi.as_view(), name="api-deployment-list"),
    path("deployments/<int:pk>/", audit_api.DeploymentDetailApi.as_view(), name="api-deployment-detail"),
    path("audit/events/", audit_api.AuditEventListApi.as_view(), name="api-audit-event-list"),
    path("deployments/<int:pk>/decision-log/", audit_api.DecisionLogApi.as_view(), name="api-decision-log"),
    path("deployments/<int:pk>/gates/", audit_api.GateStatusApi.as_view(), name="api-gate-status"),
    path(
        "deployments/<int:pk>/checklists/<str:checklist_id>/steps/<str:step_id>/sign/",
        audit_api.StepSignApi.as_view(),
        name="api-step-sign",
    ),
    path("jobs/", jobs_api.JobListApi.as_view(), name="api-job-list"),
    path("jobs/hash-artefact/", jobs_api.ArtefactHashCreateApi.as_view(), name="api-job-hash-artefact"),
    path("jobs/<int:pk>/", jobs_api.JobDetailApi.as_view(), name="api-job-detail"),
    path("jobs/<int:pk>/cancel/", jobs_api.JobCancelApi.as_view(), name="api-job-cancel"),
    path("paper-labs/datasets/", risklab_api.DatasetListApi.as_view(), name="api-dataset-list"),
    path("paper-labs/runs/", risklab_api.LabRunListApi.as_view(), name="api-lab-run-list"),
    path("paper-labs/runs/start/", risklab_api.LabRunStartApi.as_view(), name="api-lab-run-start"),
    path("paper-labs/runs/<int:pk>/", risklab_api.LabRunDetailApi.as_view(), name="api-lab-run-detail"),
]

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path(
        "login/",
        throttle_login_posts(auth_views.LoginView.as_view(redirect_authenticated_user=True)),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("deployments/<int:pk>/", views.deployment_detail, name="deployment-detail"),
    path("deployments/<int:pk>/decisions/", audit_views.decision_log, name="decision-log"),
    path("audit/", audit_views.audit_trail, name="audit-trail"),
    path("audit/export.jsonl", audit_views.audit_trail_export, name="audit-trail-export"),
    path("audit/recheck/", views.audit_trail_recheck, name="audit-trail-recheck"),
    path("deployments/<int:pk>/gates/<str:gate>/", checklist_views.gate_page, name="gate"),
    path(
        "deployments/<int:pk>/gates/<str:gate>/propose/",
        checklist_views.gate_propose_view,
        name="gate-propose",
    ),
    path(
        "deployments/<int:pk>/gates/<str:gate>/proposals/<int:proposal_id>/sign/",
        checklist_views.gate_sign_view,
        name="gate-sign",
    ),
    path(
        "deployments/<int:pk>/checklists/<str:checklist_id>/",
        checklist_views.checklist_page,
        name="checklist",
    ),
    path(
        "deployments/<int:pk>/checklists/<str:checklist_id>/steps/<str:step_id>/attach/",
        checklist_views.checklist_attach_view,
        name="checklist-attach",
    ),
    path(
        "deployments/<int:pk>/checklists/<str:checklist_id>/steps/<str:step_id>/sign/",
        checklist_views.checklist_sign_view,
        name="checklist-sign",
    ),
    path(
        "deployments/<int:pk>/checklists/<str:checklist_id>/export/",
        checklist_views.checklist_export_view,
        name="checklist-export",
    ),
    path(
        "deployments/<int:pk>/checklists/<str:checklist_id>/signed.<str:fmt>",
        checklist_views.checklist_download,
        name="checklist-download",
    ),
    path("jobs/hash-artefact/", views.artefact_hash_start, name="job-hash-artefact"),
    path("jobs/runbook/<str:kind>/", views.runbook_job_start, name="runbook-job-start"),
    path(
        "deployments/<int:pk>/checklists/<str:checklist_id>/steps/<str:step_id>/pick-job-result/",
        views.checklist_pick_job_result,
        name="checklist-pick-job-result",
    ),
    path("jobs/<int:pk>/", views.job_detail, name="job-detail"),
    path("labs/", risklab_views.lab_list, name="lab-list"),
    path("labs/<int:pk>/", risklab_views.lab_detail, name="lab-detail"),
    path("labs/<int:pk>/report.<str:fmt>", risklab_views.lab_download, name="lab-download"),
    path("labs/<int:pk>/attach/", risklab_views.lab_attach, name="lab-attach"),
    path("licensing/", include(licensing_urls.urlpatterns)),
    path("bundles/", include(delivery_urls.urlpatterns)),
    path("accounts/lockouts/", views.lockout_list, name="lockout-list"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("metrics", metrics.metrics_view, name="metrics"),
]
