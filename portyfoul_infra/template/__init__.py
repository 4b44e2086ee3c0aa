"""The CloudFormation template as troposphere code: parameters, one module per resource group, the pure build.

Only generated.py imports this package; the operations learn names from
contract.py and facts from the live stack.
"""
