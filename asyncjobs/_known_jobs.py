"""The job definitions a runner knows: by function, by name, and those of its dead letters.

``definition_for`` makes (and caches) the definition of a plain function submitted without
``@job``; ``definition_named`` finds one by name, for a requeue or a stored schedule; and a
dead letter submitted with options of its own (``with_options``) keeps its definition here,
so a requeue runs it with those options again.
"""

from __future__ import annotations

from typing import Any

from ._definition import JobDefinition, JobRegistry, make_definition
from ._errors import InvalidJob
from ._handle import Definition

_KEPT_DEFINITIONS = 10_000  # dead letters' own definitions kept for a requeue
_KEPT_FUNCTIONS = 1024  # plain functions' definitions kept


class KnownJobs:
    """Definitions by function and by name, for one runner."""

    def __init__(self, registry: JobRegistry) -> None:
        self._registry = registry
        self._adhoc: dict[Any, JobDefinition[Any, Any]] = {}
        # The definition a dead letter was submitted with, where it is not the registered
        # one: the newest _KEPT_DEFINITIONS are kept; an older one requeues with the
        # registered options.
        self._dead: dict[str, Definition] = {}

    def definition_for(self, job: Any) -> JobDefinition[Any, Any]:
        """The definition of ``job``: itself if it is one, else made from the function."""
        if isinstance(job, JobDefinition):
            return job
        try:
            return self._adhoc[job]
        except KeyError:
            pass
        except Exception:  # noqa: BLE001 - an unhashable (or unhashing) callable: not kept
            return make_definition(job)
        definition = make_definition(job)
        if len(self._adhoc) < _KEPT_FUNCTIONS:
            self._adhoc[job] = definition
        return definition

    def definition_named(self, name: str) -> JobDefinition[Any, Any]:
        """The registered (or submitted) job of this name; ``InvalidJob`` if none."""
        if name in self._registry:
            return self._registry.get(name)
        for definition in self._adhoc.values():
            if definition.name == name:
                return definition
        raise InvalidJob(
            name,
            "no job of this name is registered (decorate it with @job, or pass the runner "
            "its registry), so a dead letter of it cannot be requeued",
        )

    def keep_dead(self, job_id: str, definition: Definition) -> None:
        """Remember a dead letter's definition if a requeue could not find it by name."""
        name = definition.name
        registry = self._registry
        if name in registry and registry.get(name) is definition:
            return
        if self._adhoc.get(definition.fn) is definition:
            return
        kept = self._dead
        kept.pop(job_id, None)
        kept[job_id] = definition
        if len(kept) > _KEPT_DEFINITIONS:
            del kept[next(iter(kept))]

    def for_dead(self, job_id: str, name: str) -> Definition:
        """The definition to requeue the dead letter ``job_id`` (of job ``name``) with."""
        return self._dead.get(job_id) or self.definition_named(name)

    def forget_dead(self, job_id: str) -> None:
        self._dead.pop(job_id, None)
