# The tutorials' app, verbatim from seed 002 (step 2, "Create FastAPI Application (`main.py`)"),
# saved as app.py and started the tutorial's way: `uvicorn app:app`, from this directory.
# Its contract is the tutorial's: POST /predict {"input": [5.1, 3.5, 1.4, 0.2]} -> {"prediction": [0]}.
# ruff: noqa
# mypy: ignore-errors
# fmt: off
from fastapi import FastAPI
from pydantic import BaseModel
import joblib
import numpy as np

app = FastAPI()

# Define the request model
class InputData(BaseModel):
    input: list

# Load the trained Scikit-Learn model
model = joblib.load('model.pkl')

@app.post("/predict")
def predict(data: InputData):
    input_features = np.array(data.input).reshape(1, -1)
    prediction = model.predict(input_features)
    return {"prediction": prediction.tolist()}
