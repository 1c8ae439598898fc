"""Hosts and their interfaces: /api/v1/servers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from api.deps import ContextDep, NowDep, StoreDep, find_host, read, shown
from api.models import InterfacePublic, Problem, ServerDetail, ServerPublic
from api.views import host_status, interface_public, server_detail, server_public

router = APIRouter(prefix="/api/v1/servers", tags=["servers"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "unknown server or interface"}
}


@router.get("", response_model=list[ServerPublic])
async def list_servers(store: StoreDep, context: ContextDep, now: NowDep) -> list[ServerPublic]:
    """Every known host with its status (online, offline, stale), last seen and interfaces."""

    def work() -> list[ServerPublic]:
        return [
            server_public(host, store.latest(host.id), host_status(host, now, context.settings))
            for host in store.hosts()
        ]

    return await read(store, work)


@router.get("/{server_id}", response_model=ServerDetail, responses=_NOT_FOUND)
async def get_server(
    server_id: str, store: StoreDep, context: ContextDep, now: NowDep
) -> ServerDetail:
    """One host plus `network_interfaces`: the newest counters, rates and link state of each.

    A host that has not sent a sample yet has `network_interfaces: []`.
    """

    def work() -> ServerDetail:
        host = find_host(store, server_id)
        state = host_status(host, now, context.settings)
        return server_detail(host, store.latest(host.id), state)

    return await read(store, work)


@router.get("/{server_id}/interfaces/{name}", response_model=InterfacePublic, responses=_NOT_FOUND)
async def get_interface(server_id: str, name: str, store: StoreDep) -> InterfacePublic:
    """One interface of a host; 404 says whether the server or the interface is unknown."""

    def work() -> InterfacePublic:
        host = find_host(store, server_id)
        for sample in store.latest(host.id):
            if sample.iface == name:
                return interface_public(sample)
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"server {shown(server_id)} has no interface {shown(name)}",
        )

    return await read(store, work)
