"""Nova CPT recipe: safe YAML loading, the pydantic model and validation with all errors at once."""

from novacpt.recipe.model import NovaCptRecipe, RecipeIssue
from novacpt.recipe.validate import (
    RecipeReport,
    apply_overrides,
    parse_set_option,
    validate_recipe_bytes,
    validate_recipe_file,
)
from novacpt.recipe.yaml_loader import MAX_BYTES, MAX_NODES

__all__ = [
    "MAX_BYTES",
    "MAX_NODES",
    "NovaCptRecipe",
    "RecipeIssue",
    "RecipeReport",
    "apply_overrides",
    "parse_set_option",
    "validate_recipe_bytes",
    "validate_recipe_file",
]
