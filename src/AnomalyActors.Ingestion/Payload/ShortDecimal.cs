namespace AnomalyActors.Ingestion.Payload;

/// <summary>
/// The readings devices send are nearly all short plain decimals ("20", "17.35", "-3.5"). This parses
/// those without the general number parser, and gives up (false) on anything else: exponents, more than
/// <see cref="MaxDigits"/> digits, "NaN", "Infinity", separators, spaces. Callers then ask
/// <see cref="double.TryParse(ReadOnlySpan{char}, System.Globalization.NumberStyles, IFormatProvider?, out double)"/>.
/// </summary>
/// <remarks>
/// The result is bit for bit what <c>double.Parse</c> returns. With at most 15 digits the digits form an
/// integer below 2^53 and the scale is a power of ten up to 10^15; both are exact doubles, and IEEE
/// division rounds their exact quotient correctly, which is what a correct parser must return too.
/// </remarks>
public static class ShortDecimal
{
    /// <summary>Digits (before and after the point together) the exact fast path can take.</summary>
    public const int MaxDigits = 15;

    private static readonly double[] PowersOfTen =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];

    /// <summary>An optional sign, digits with at most one decimal point, and at least one digit.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out double value)
    {
        value = 0;
        var i = 0;
        var negative = false;
        if (text.Length > 0 && (text[0] == '-' || text[0] == '+'))
        {
            negative = text[0] == '-';
            i = 1;
        }

        long mantissa = 0;
        var digits = 0;
        var fractionDigits = -1;
        for (; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '.' && fractionDigits < 0)
            {
                fractionDigits = 0;
                continue;
            }

            var digit = (uint)(c - '0');
            if (digit > 9 || ++digits > MaxDigits)
            {
                return false;
            }

            mantissa = (mantissa * 10) + digit;
            if (fractionDigits >= 0)
            {
                fractionDigits++;
            }
        }

        if (digits == 0)
        {
            return false;
        }

        var magnitude = fractionDigits > 0 ? mantissa / PowersOfTen[fractionDigits] : mantissa;
        value = negative ? -magnitude : magnitude;
        return true;
    }
}
