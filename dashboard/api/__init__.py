"""The operator API: JSON routes for annotations, alerts, rules and the audit trail, one module per
resource, every route listed in :data:`dashboard.api.routes.ROUTES`."""

from dashboard.api.endpoint import ApiRefusal, is_partner
from dashboard.api.routes import ROUTES, register_operator_api

__all__ = ["ROUTES", "ApiRefusal", "is_partner", "register_operator_api"]
