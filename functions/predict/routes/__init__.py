"""HTTP routes; each module declares one APIRouter."""
