"""The cyber weather (issue 26): weekly community series turned into forecasts with measured
accuracy, warnings and monthly category states. Pure: no Flask, no database. The storage layer
hands in released series (``storage/weather.py``), this package computes, the web layer shows.

Modules: ``series`` (what a series is, built from the processors' outputs), ``models`` (the
statsmodels forecasters), ``backtest`` (rolling-origin accuracy and the choice of model),
``alerts`` (the rising/falling test), ``states`` (monthly category states and the bulletin),
``report`` (everything for one week, as the stored document)."""
