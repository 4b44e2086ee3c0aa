"""What is made from the template: the generated files, the pictures, lint, and the cost estimate."""
