"""Honest gaps: Graph features mockdrive does not implement answer ``501 notImplemented``
naming the feature; segments the real API does not have answer as its gateway does
(``400 BadRequest`` "Resource not found for the segment …")."""

from __future__ import annotations

from ..errors import ApiError

# Top-level resources of Graph v1.0 (after /v1.0/) that mockdrive does not serve.
TOP_LEVEL = frozenset(
    (
        "$metadata",
        "admin",
        "agreements",
        "applications",
        "auditLogs",
        "chats",
        "communications",
        "contacts",
        "contracts",
        "deviceManagement",
        "devices",
        "directory",
        "directoryObjects",
        "directoryRoles",
        "domains",
        "education",
        "employeeExperience",
        "external",
        "groups",
        "identity",
        "identityGovernance",
        "informationProtection",
        "invitations",
        "oauth2PermissionGrants",
        "organization",
        "permissionGrants",
        "places",
        "planner",
        "policies",
        "print",
        "reports",
        "roleManagement",
        "schemaExtensions",
        "search",
        "security",
        "servicePrincipals",
        "sites",
        "solutions",
        "storage",
        "subscriptions",
        "teams",
        "teamwork",
        "tenantRelationships",
    )
)
# Navigation properties and actions of a user (/me/…, /users/{id}/…) other than drive(s).
USER_SEGMENTS = frozenset(
    (
        "activities",
        "appRoleAssignments",
        "authentication",
        "calendar",
        "calendarGroups",
        "calendarView",
        "calendars",
        "changePassword",
        "chats",
        "checkMemberGroups",
        "contactFolders",
        "contacts",
        "createdObjects",
        "directReports",
        "employeeExperience",
        "events",
        "extensions",
        "followedSites",
        "getMemberGroups",
        "getMemberObjects",
        "inferenceClassification",
        "insights",
        "joinedTeams",
        "licenseDetails",
        "mailFolders",
        "mailboxSettings",
        "manager",
        "memberOf",
        "messages",
        "oauth2PermissionGrants",
        "onenote",
        "onlineMeetings",
        "outlook",
        "ownedDevices",
        "ownedObjects",
        "people",
        "photo",
        "photos",
        "planner",
        "presence",
        "registeredDevices",
        "sendMail",
        "settings",
        "teamwork",
        "todo",
        "transitiveMemberOf",
    )
)
# Segments after a drive (/me/drive/…) other than root, items, special and search.
DRIVE_SEGMENTS = frozenset(
    (
        "activities",
        "bundles",
        "following",
        "list",
        "recent",
    )
)
# Actions and navigation properties of a driveItem mockdrive does not serve.
ITEM_SEGMENTS = frozenset(
    (
        "activities",
        "analytics",
        "assignSensitivityLabel",
        "checkin",
        "checkout",
        "discardCheckout",
        "extractSensitivityLabels",
        "follow",
        "getActivitiesByInterval",
        "listItem",
        "permanentDelete",
        "restore",
        "retentionLabel",
        "subscriptions",
        "unfollow",
        "validatePermission",
        "workbook",
    )
)
# Below a version or thumbnail (…/versions/{id}/…).
VERSION_SEGMENTS = frozenset(("content", "restoreVersion"))
# Special folders of the API that mockdrive does not map.
SPECIAL_FOLDERS = frozenset(("recordings",))


def not_implemented(feature: str) -> ApiError:
    """A Graph feature that exists in the real API but not in mockdrive."""
    return ApiError(501, "notImplemented", f"mockdrive does not implement {feature}")


def bad_segment(segment: str) -> ApiError:
    """A segment the real API does not have, answered as the Graph gateway answers it."""
    return ApiError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def function_name(segment: str) -> str:
    """``search(q='x')`` → ``search``; other segments unchanged."""
    return segment.split("(", 1)[0]
