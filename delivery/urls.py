"""Delivery routes. `urlpatterns`: console pages, mounted at /bundles/. `api_urlpatterns`: the API, mounted at
/api/v1/bundles/. Names are global and start with `bundle-` / `api-bundle-`."""

from django.urls import path

from . import api, views

urlpatterns = [
    path("", views.bundle_list, name="bundle-list"),
    path("<int:pk>/", views.bundle_detail, name="bundle-detail"),
    path("<int:pk>/files/<str:name>", views.bundle_download, name="bundle-download"),
    path("<int:pk>/accept/", views.bundle_accept, name="bundle-accept"),
    path("<int:pk>/attach/", views.bundle_attach, name="bundle-attach"),
]

api_urlpatterns = [
    path("", api.BundleBuildListApi.as_view(), name="api-bundle-list"),
    path("build/", api.BundleBuildStartApi.as_view(), name="api-bundle-build"),
    path("<int:pk>/", api.BundleBuildDetailApi.as_view(), name="api-bundle-detail"),
    path("<int:pk>/acceptance/", api.BundleAcceptanceStartApi.as_view(), name="api-bundle-acceptance"),
    path("<int:pk>/attach/", api.BundleAttachApi.as_view(), name="api-bundle-attach"),
]
