"""Nova CPT recipes of both generations: safe YAML loading, the pydantic models, validation with all errors at once."""

from novacpt.recipe.checkpoint import checkpoint_account, checkpoint_account_problem, checkpoint_problem
from novacpt.recipe.fields import RecipeIssue
from novacpt.recipe.model import Nova2CptRecipe, NovaCptRecipe, Recipe
from novacpt.recipe.validate import (
    MAX_REPLICAS_SETTING,
    MODEL_SETTING,
    RecipeReport,
    apply_overrides,
    deployment_issues,
    parse_set_option,
    validate_recipe_bytes,
    validate_recipe_file,
)
from novacpt.recipe.yaml_loader import MAX_BYTES, MAX_NODES

__all__ = [
    "MAX_BYTES",
    "MAX_NODES",
    "MAX_REPLICAS_SETTING",
    "MODEL_SETTING",
    "Nova2CptRecipe",
    "NovaCptRecipe",
    "Recipe",
    "RecipeIssue",
    "RecipeReport",
    "apply_overrides",
    "checkpoint_account",
    "checkpoint_account_problem",
    "checkpoint_problem",
    "deployment_issues",
    "parse_set_option",
    "validate_recipe_bytes",
    "validate_recipe_file",
]
