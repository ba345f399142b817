namespace AnomalyActors.Detection;

internal static class Guard
{
    public static void Finite(double value, string name)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, value, "Readings must be finite numbers.");
        }
    }
}
