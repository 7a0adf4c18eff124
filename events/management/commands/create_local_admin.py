from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = (
        "Create a superuser and an API token for a local checkout, unless the user exists. "
        "Meant for `make run` on a laptop; never use the default password on a server."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="admin")

    def handle(self, *args, username, password, **options):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True, "email": f"{username}@localhost"}
        )
        if created:
            user.set_password(password)
            user.save(update_fields=["password"])
            self.stdout.write(f"Created superuser {username!r} with password {password!r}.")
        else:
            self.stdout.write(f"User {username!r} already exists; its password is unchanged.")
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(f"API token for {username!r}: {token.key}")
