"""Apache Airflow provider for DICOMweb (STOW-RS, QIDO-RS, WADO-RS and delete).

The DICOMweb client lives in :mod:`airflow_dicomweb.core` and imports nothing from Airflow;
the Airflow hook, operators, sensors and triggers are thin layers over it.
"""

__version__ = "0.3.0"
