using System.Globalization;
using System.Text;
using AnomalyActors.Ingestion.Payload;
using Xunit;

namespace AnomalyActors.Ingestion.Tests;

public sealed class ShortDecimalSpecs
{
    [Theory]
    [InlineData("20", 20.0)]
    [InlineData("17.35", 17.35)]
    [InlineData("-3.5", -3.5)]
    [InlineData("+.5", 0.5)]
    [InlineData("5.", 5.0)]
    [InlineData("0.1", 0.1)]
    [InlineData("007", 7.0)]
    [InlineData("123456789012345", 123456789012345.0)]
    [InlineData("0.00000000000001", 1e-14)]
    public void Should_read_plain_decimals_as_the_general_parser_does(string text, double expected)
    {
        var parsed = ShortDecimal.TryParse(text, out var value);

        Assert.True(parsed);
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(value));
    }

    [Fact]
    public void Should_keep_the_sign_of_negative_zero()
    {
        var parsed = ShortDecimal.TryParse("-0", out var value);

        Assert.True(parsed);
        Assert.True(double.IsNegative(value));
        Assert.Equal(0.0, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-")]
    [InlineData(".")]
    [InlineData("1e5")]
    [InlineData("1.2.3")]
    [InlineData("1,5")]
    [InlineData(" 1")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("--1")]
    [InlineData("1234567890123456")]
    [InlineData("0.0000000000000001")]
    public void Should_leave_everything_else_to_the_general_parser(string text)
    {
        Assert.False(ShortDecimal.TryParse(text, out _));
    }

    [Fact]
    public void Should_agree_bit_for_bit_with_double_parse_on_random_decimals()
    {
        // Arrange: signs, leading zeros, points anywhere, 1-17 digits (so both sides of the 15-digit
        // limit), and now and then a character the fast path must refuse.
        var random = new Random(20261125);
        var alphabet = "0123456789";
        var builder = new StringBuilder();
        var accepted = 0;

        for (var n = 0; n < 200_000; n++)
        {
            builder.Clear();
            var sign = random.Next(4);
            if (sign == 1)
            {
                builder.Append('-');
            }
            else if (sign == 2)
            {
                builder.Append('+');
            }

            var length = random.Next(1, 18);
            var point = random.Next(-1, length + 1);
            for (var i = 0; i < length; i++)
            {
                if (i == point)
                {
                    builder.Append('.');
                }

                builder.Append(alphabet[random.Next(alphabet.Length)]);
            }

            if (point == length)
            {
                builder.Append('.');
            }

            if (random.Next(50) == 0)
            {
                builder.Insert(random.Next(builder.Length + 1), "e .,x"[random.Next(5)]);
            }

            var text = builder.ToString();

            // Act
            var fast = ShortDecimal.TryParse(text, out var value);

            // Assert: whatever the fast path takes, the general parser reads to the same bits.
            if (fast)
            {
                accepted++;
                Assert.True(double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var expected), text);
                Assert.True(
                    BitConverter.DoubleToInt64Bits(expected) == BitConverter.DoubleToInt64Bits(value),
                    $"'{text}': fast {value:R}, general {expected:R}");
            }
        }

        // The generator must actually exercise the fast path (about 15 of every 17 lengths qualify).
        Assert.True(accepted > 100_000, $"only {accepted} accepted");
    }
}
