"""Access calls: tickets and the /access index.

Source: pve-access-control src/PVE/API2/AccessControl.pm (index, get_ticket, create_ticket,
create_ticket_do). Users and tokens live in the core directory (pvesim/auth.py) so that a
later users/tokens/ACL area can manage them.
"""

from pvesim.areas import Area, route
from pvesim.errors import ApiError, HTTP_UNAUTHORIZED

# compute_api_permission for root@pam: every privilege on every top-level path (subset shown
# by the GUI; values are 1 like PVE's).
ROOT_CAPABILITIES = {
    "vms": ["VM.Allocate", "VM.Audit", "VM.Backup", "VM.Clone", "VM.Config.CDROM", "VM.Config.CPU", "VM.Config.Cloudinit",
            "VM.Config.Disk", "VM.Config.HWType", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options",
            "VM.Console", "VM.Migrate", "VM.PowerMgmt", "VM.Snapshot", "VM.Snapshot.Rollback", "Permissions.Modify"],
    "storage": ["Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate", "Datastore.Audit", "Permissions.Modify"],
    "access": ["Group.Allocate", "Permissions.Modify", "Realm.Allocate", "Realm.AllocateUser", "User.Modify"],
    "nodes": ["Permissions.Modify", "Sys.Audit", "Sys.Console", "Sys.Incoming", "Sys.Modify", "Sys.PowerMgmt", "Sys.Syslog"],
    "dc": ["Sys.Audit", "Sys.Modify", "SDN.Allocate", "SDN.Audit", "SDN.Use"],
    "sdn": ["Permissions.Modify", "SDN.Allocate", "SDN.Audit", "SDN.Use"],
    "mapping": ["Mapping.Audit", "Mapping.Modify", "Mapping.Use", "Permissions.Modify"],
}


class AccessArea(Area):
    """Login (tickets); the directory itself is core."""

    @route("GET", "/access")
    def index(self, _request):
        """AccessControl.pm index: the subdirectories (from the version's schema)."""
        return [{"subdir": name} for name in self.sim.schema.children("/access")]

    @route("GET", "/access/ticket")
    def get_ticket(self, _request):
        """AccessControl.pm get_ticket: a dummy for login pages."""

    @route("POST", "/access/ticket")
    def create_ticket(self, request):
        """AccessControl.pm create_ticket: a password, or a valid ticket of the same user (renewal).

        Every failure is 401 "authentication failure" (no user enumeration). PVE also delays
        every 401 by 3 s (AnyEvent.pm); the simulator does not, to keep tests fast.
        """
        params = request.params
        userid = params["username"] + ("@" + params["realm"] if params.get("realm") else "")
        directory = self.sim.directory
        ticket_user = directory.verify_ticket(params["password"])
        valid = directory.user_enabled(userid) and (
            ticket_user in ("root@pam", userid) or directory.check_password(userid, params["password"]))
        if not valid:
            raise ApiError(HTTP_UNAUTHORIZED, "authentication failure\n")
        result = {
            "username": userid,
            "ticket": directory.assemble_ticket(userid),
            "CSRFPreventionToken": directory.assemble_csrf_token(userid),
            "clustername": self.sim.cluster_name,
        }
        if directory.is_root_equivalent(userid):
            result["cap"] = {scope: {privilege: 1 for privilege in privileges} for scope, privileges in ROOT_CAPABILITIES.items()}
        return result
