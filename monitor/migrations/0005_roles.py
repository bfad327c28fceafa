"""The roles' groups (viewers, editors, admins) with their permissions; see
monitor/services/roles.py."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from monitor.services.roles import ROLES, role_group


def create_role_groups(apps, schema_editor):
    # Permissions are otherwise created after the last migration has run: the groups need them
    # now, run_endpoint included.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    for role in ROLES.values():
        role_group(role, apps)


def delete_role_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=[role.group for role in ROLES.values()]
    ).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("monitor", "0004_endpoint_egress"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="endpoint",
            options={
                "ordering": ["model_family", "version_label", "name"],
                "permissions": [
                    ("run_endpoint", "Can run an endpoint now and test its connection")
                ],
            },
        ),
        migrations.RunPython(create_role_groups, delete_role_groups),
    ]
