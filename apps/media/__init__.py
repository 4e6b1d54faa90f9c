"""Uploaded files (avatars, course covers, lesson attachments, post images).

How other apps use a file, all keyword-only:
- accept a media id from the client, then inside the transaction that saves the thing using
  it: `apps.media.services.media_attach(media_id=..., owner=request.user, purpose="post_image",
  field="media")` -> MediaFile (404 not theirs, 400 wrong purpose / not ready, 409 in use);
- when it stops using it: `apps.media.services.media_detach(media_id=...)` (the orphan
  cleanup deletes it MEDIA_ORPHAN_MAX_AGE_HOURS later unless attached again);
- foreign keys to media.MediaFile use on_delete=SET_NULL (or a many-to-many);
- render it with `apps.media.api.serializers.MediaRefOutput` or
  `apps.media.selectors.media_url(media=...)` after select_related: no query per file;
- say who may see it in AppConfig.ready():
  `apps.media.access.register_visibility_rule("post_image", rule)`, rule(user, media) -> bool.
"""
