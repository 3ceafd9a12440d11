"""The per-file upload cap, enforced while the request body streams in.

`UploadLimitMiddleware` parses multipart bodies itself, before any view or the CSRF check reads them, with
`CappedUploadHandler` first in the handler chain: the first chunk past the cap stops the parse, the
temporary file the next handler had started is closed (which deletes it) and the client gets a 413 with a
one-line reason. No view runs, so nothing reaches the database or the evidence folders either."""

from django.core.files.uploadhandler import FileUploadHandler

from audit.uploads import UploadRefused, max_upload_bytes, quota_bytes, upload_refused_response


class CappedUploadHandler(FileUploadHandler):
    """Counts each file's bytes and refuses the upload at the first chunk past the cap."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        cap = max_upload_bytes()
        if self.received > cap:
            raise UploadRefused(f"upload refused: a file may be at most {cap // (1024 * 1024)} MB")
        if self.received > quota_bytes():
            # No deployment could keep it: stop reading now rather than at the storing step.
            raise UploadRefused("upload refused: over the deployment's storage quota")
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler in the chain builds the file


def _discard_partial_files(request) -> None:
    for handler in getattr(request, "_upload_handlers", None) or []:
        partial = getattr(handler, "file", None)
        if partial is not None:
            partial.close()  # a TemporaryUploadedFile deletes its temporary file on close


class UploadLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        content_type = request.META.get("CONTENT_TYPE", "")
        if request.method in {"POST", "PUT", "PATCH"} and content_type.startswith("multipart/form-data"):
            request.upload_handlers = [CappedUploadHandler(request)] + [
                handler for handler in request.upload_handlers if not isinstance(handler, CappedUploadHandler)
            ]
            try:
                request.POST  # noqa: B018 - parses now, under the cap, instead of inside a view
            except UploadRefused as exc:
                _discard_partial_files(request)
                return upload_refused_response(request, str(exc))
        return self.get_response(request)
