import pytest
from django.test import Client

from apps.media.models import MediaFile
from tests.factories import UserFactory
from tests.media.factories import media_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_storage")]


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_staff_find_files_by_id_owner_or_name(staff_client, user):
    media = media_for(user, name="holiday.png")
    for term in (str(media.pk), user.email, "holiday", "not-a-uuid"):
        response = staff_client.get("/admin/media/mediafile/", {"q": term})
        assert response.status_code == 200
    assert str(media.pk) in staff_client.get("/admin/media/mediafile/", {"q": "holiday"}).text
    detail = staff_client.get(f"/admin/media/mediafile/{media.pk}/change/")
    assert detail.status_code == 200 and "/content/?token=" in detail.text


def test_deleting_in_the_admin_deletes_the_stored_object(
    staff_client, user, stored_keys, django_capture_on_commit_callbacks
):
    media = media_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/admin/media/mediafile/",
            {"action": "delete_selected", "_selected_action": [str(media.pk)], "post": "yes"},
        )
    assert response.status_code == 302
    assert not MediaFile.objects.exists()
    assert stored_keys() == set()
