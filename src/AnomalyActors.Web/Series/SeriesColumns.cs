using AnomalyActors.Core.State;

namespace AnomalyActors.Web.Series;

/// <summary>
/// Scored readings as columns, the shape a chart library takes directly: times in Unix
/// milliseconds, null where a detector had no prediction or band yet.
/// </summary>
/// <param name="Offset">Each reading's offset in its partition: increasing, so a client drops what it has already.</param>
public sealed record SeriesColumns(
    long[] Offset,
    long[] Ts,
    double[] Value,
    double?[] Prediction,
    double?[] Low,
    double?[] High,
    double[] Score,
    bool[] Anomaly,
    long[] Episode)
{
    public static SeriesColumns Of(IReadOnlyList<ScoredReading> points)
    {
        var n = points.Count;
        var columns = new SeriesColumns(new long[n], new long[n], new double[n], new double?[n], new double?[n], new double?[n], new double[n], new bool[n], new long[n]);
        for (var i = 0; i < n; i++)
        {
            var p = points[i];
            columns.Offset[i] = p.Offset;
            columns.Ts[i] = p.TimestampMs;
            columns.Value[i] = double.IsFinite(p.Value) ? p.Value : 0;
            columns.Prediction[i] = Finite(p.Prediction);
            columns.Low[i] = Finite(p.Low);
            columns.High[i] = Finite(p.High);
            columns.Score[i] = double.IsFinite(p.Grade) ? p.Grade : 0;
            columns.Anomaly[i] = p.OutOfBand;
            columns.Episode[i] = p.Episode;
        }

        return columns;
    }

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;
}
