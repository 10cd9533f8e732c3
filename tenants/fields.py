from django import forms
from django.db import models

from tenants import crypto


class EncryptedTextField(models.Field):
    """Text stored encrypted with the row's tenant data key (AES-256-GCM), bound to this field."""

    def __init__(self, *args, purpose: str | None = None, **kwargs):
        self.purpose = purpose
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.purpose is not None:
            kwargs["purpose"] = self.purpose
        return name, path, args, kwargs

    def contribute_to_class(self, cls, name, *args, **kwargs):
        super().contribute_to_class(cls, name, *args, **kwargs)
        if self.purpose is None:
            self.purpose = f"{cls._meta.label_lower}.{name}"

    def get_internal_type(self):
        return "BinaryField"

    def get_prep_value(self, value):
        if value is None:
            return None
        return crypto.encrypt(str(value).encode(), purpose=self.purpose)

    def get_db_prep_value(self, value, connection, prepared=False):
        value = value if prepared else self.get_prep_value(value)
        return connection.Database.Binary(value) if value is not None else None

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return crypto.decrypt(bytes(value), purpose=self.purpose).decode()

    def to_python(self, value):
        return value

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": forms.CharField, **kwargs})


class PlatformEncryptedTextField(EncryptedTextField):
    """Text stored encrypted for the platform (no tenant): its own data key, wrapped by the master
    key (tenants.crypto.platform_encrypt), bound to this field. For platform tables only."""

    def get_prep_value(self, value):
        if value is None:
            return None
        return crypto.platform_encrypt(str(value).encode(), purpose=self.purpose)

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return crypto.platform_decrypt(bytes(value), purpose=self.purpose).decode()
