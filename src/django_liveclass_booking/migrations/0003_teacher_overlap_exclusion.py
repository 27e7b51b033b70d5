from django.db import migrations

from django_liveclass_booking.operations import AddTeacherOverlapExclusion


class Migration(migrations.Migration):
    dependencies = [
        ("liveclass_booking", "0002_request_expiry"),
    ]

    operations = [
        AddTeacherOverlapExclusion(),
    ]
