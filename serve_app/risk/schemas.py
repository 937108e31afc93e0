"""The risk domain's response shapes: the examples the API's documentation shows."""

_RISK_EXAMPLE = {
    "district": "Ariyalur", "block": "Sendurai", "school_id": "33010100101", "score": 46.5, "level": "medium",
    "local_score": 12.0,
    "factors": [{"factor": "stock", "points": 12.0, "weight": 30.0}, {"factor": "meals", "points": 0.0, "weight": 15.0},
                {"factor": "staleness", "points": 0.0, "weight": 10.0},
                {"factor": "no_meal_streak", "points": 0.0, "weight": 15.0},
                {"factor": "funds", "points": 0.0, "weight": 10.0}, {"factor": "inspection", "points": 0.0, "weight": 5.0},
                {"factor": "shortage", "points": 0.0, "weight": 15.0},
                {"factor": "neighbours", "points": 34.5, "weight": 1.0}],
    "features": {"stock_days": 10.2, "meal_share": 0.86, "days_since_report": 0, "no_meal_streak": 0,
                 "no_meal_days_30": 0, "funds_days": 41.3, "days_since_inspection": None, "inspection_issues": None,
                 "days_since_shortage": None, "closed_today": 0},
    "cascade": {"flagged": True, "pressure": 46.5, "path": [
        {"school_id": "33010100102", "local_risk": 85.0, "pressure": 71.2}]},
    "open_alerts": [],
}
_CASCADE_EXAMPLE = {
    "district": "Ariyalur", "block": "Sendurai", "schools": 112, "by_level": {"low": 98, "medium": 9, "high": 4, "critical": 1},
    "cascade_flagged": 3, "shown": 1,
    "flagged": [{"school_id": "33010100101", "score": 46.5, "level": "medium", "local_score": 12.0,
                 "neighbour_points": 34.5, "sources": [{"school_id": "33010100102", "local_risk": 85.0, "pressure": 71.2}]}],
}
