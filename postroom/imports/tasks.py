"""Background work for imports, through django-tasks (database backend).

`run_import_task` is enqueued when the UI starts an import; `python -m django
db_worker` (or `postroom run` / `postroom worker`) runs it. `run_pending()` is
the same work as a plain step for any loop: it also picks up an import whose
worker died, so an interrupted import always resumes.
"""

from django_tasks import task

from postroom.imports import services


@task()
def run_import_task(import_id: int) -> dict | None:
    imp = services.claim(import_id)
    if imp is None:
        return None  # already taken, finished, or not queued
    return services.execute(imp).summary()


def run_pending() -> bool:
    """Run one queued or crashed import; True when one ran."""
    return services.run_pending()
