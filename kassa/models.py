from django.db import models


class ScheduleClaim(models.Model):
    """One periodic task's schedule slot, claimed by the beat that sends it (kassa.beat).

    A platform table (no tenant): the primary key makes a second send of the same slot, from a
    second beat or a beat that lost its lock, a no-op.
    """

    name = models.CharField(max_length=200)
    slot = models.CharField(max_length=40)
    claimed_by = models.CharField(max_length=200)
    claimed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "slot"], name="kassa_scheduleclaim_once")]
        indexes = [models.Index(fields=["claimed_at"], name="kassa_sched_claimed_at")]

    def __str__(self) -> str:
        return f"{self.name} @ {self.slot}"
