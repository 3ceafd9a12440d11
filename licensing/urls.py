"""Licensing routes. `urlpatterns`: console pages, mounted at /licensing/. `api_urlpatterns`: the API,
mounted at /api/v1/licensing/. Names are global and start with `licensing-` / `api-licensing-`."""

from django.urls import path

from . import api, views

urlpatterns = [
    path("", views.customer_list, name="licensing-customer-list"),
    path("customers/<int:pk>/", views.customer_detail, name="licensing-customer-detail"),
    path("customers/<int:pk>/upload/", views.customer_upload_request, name="licensing-customer-upload"),
    path("customers/<int:pk>/assign/", views.customer_assign_admin, name="licensing-customer-assign"),
    path("requests/", views.request_list, name="licensing-request-list"),
    path("requests/<int:pk>/", views.request_detail, name="licensing-request-detail"),
    path("requests/<int:pk>/approve/", views.request_approve, name="licensing-request-approve"),
    path("requests/<int:pk>/reject/", views.request_reject, name="licensing-request-reject"),
    path("licenses/<int:serial>/", views.license_detail, name="licensing-license-detail"),
    path("licenses/<int:serial>/license.json", views.license_download, name="licensing-license-download"),
    path("licenses/<int:serial>/qr.png", views.license_qr, name="licensing-license-qr"),
    path("licenses/<int:serial>/revoke/", views.license_revoke, name="licensing-license-revoke"),
    path("registry/", views.registry_status, name="licensing-registry"),
    path("registry/reconcile/", views.registry_reconcile, name="licensing-registry-reconcile"),
]

api_urlpatterns = [
    path("customers/", api.CustomerListApi.as_view(), name="api-licensing-customer-list"),
    path("customers/<int:pk>/", api.CustomerDetailApi.as_view(), name="api-licensing-customer-detail"),
    path("requests/", api.LicenseRequestListApi.as_view(), name="api-licensing-request-list"),
    path("requests/upload/", api.LicenseRequestUploadApi.as_view(), name="api-licensing-request-upload"),
    path(
        "requests/<int:pk>/approve/",
        api.LicenseRequestApproveApi.as_view(),
        name="api-licensing-request-approve",
    ),
    path(
        "requests/<int:pk>/reject/",
        api.LicenseRequestRejectApi.as_view(),
        name="api-licensing-request-reject",
    ),
    path("licenses/", api.LicenseListApi.as_view(), name="api-licensing-license-list"),
    path("licenses/<int:serial>/", api.LicenseDetailApi.as_view(), name="api-licensing-license-detail"),
    path(
        "licenses/<int:serial>/revoke/", api.LicenseRevokeApi.as_view(), name="api-licensing-license-revoke"
    ),
    path("registry/", api.RegistryStatusApi.as_view(), name="api-licensing-registry"),
]
