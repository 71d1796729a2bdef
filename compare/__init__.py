"""twinserve's comparison toolkit: measure the real handler, simulate both platforms, price, report."""
