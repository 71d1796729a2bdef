# The tutorials' training step, verbatim from seed 002 (step 1, "Train and Save the Model"):
# writes model.pkl into the working directory. python -m bench runs it in bench/baseline/.
# ruff: noqa
# mypy: ignore-errors
# fmt: off
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from sklearn.ensemble import RandomForestClassifier
import joblib

# Load the Iris dataset
iris = load_iris()
X, y = iris.data, iris.target

# Split into training and testing sets
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)

# Train a RandomForestClassifier
model = RandomForestClassifier(n_estimators=100, random_state=42)
model.fit(X_train, y_train)

# Save the trained model
joblib.dump(model, 'model.pkl')
