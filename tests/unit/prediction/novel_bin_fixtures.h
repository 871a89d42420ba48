// Test series for NovelBinDetector and the scores it must give on them. The series are built
// from integer arithmetic (a 64-bit linear congruential generator, values that are exact in
// binary) so that they are identical in any language; the expected scores were computed by
// the Python reference implementation of the detector, from which the C++ one was ported, and
// are exact (printed with 17 significant digits). Every row not listed must score exactly 0.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <vector>

namespace shadowfleet::testing {

struct TestSeries {
  std::vector<double> values;
  std::vector<double> times;

  void Add(double value, double time) {
    values.push_back(value);
    times.push_back(time);
  }
};

struct ExpectedScore {
  int row;
  double score;
};

class Lcg {
 public:
  explicit Lcg(uint64_t seed) : state_(seed) {}
  int64_t Next() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int64_t>(state_ >> 33);
  }

 private:
  uint64_t state_;
};

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A daily triangle wave with noise, spikes at rows 400, 405 and 700, a level shift from row
// 850, missing values at rows 300-302 and 650 and a missing time at row 660; 5-minute steps.
inline TestSeries DailySeries() {
  Lcg r(1);
  TestSeries s;
  for (int i = 0; i < 1000; ++i) {
    double v = 50 + std::abs(i % 288 - 144) / 4.0 + static_cast<double>(r.Next() % 64 - 32) / 16;
    v += i == 400 ? 80 : i == 405 ? -60 : i == 700 ? 200 : 0;
    v += i >= 850 ? 20 : 0;
    double t = 1400000000.0 + 300 * i;
    if (i == 300 || i == 301 || i == 302 || i == 650) {
      v = kNaN;
    }
    if (i == 660) {
      t = kNaN;
    }
    s.Add(v, t);
  }
  return s;
}

// A constant warm-up (the scale falls back to the level), then small and large level changes;
// hourly steps.
inline TestSeries FlatSeries() {
  TestSeries s;
  for (int i = 0; i < 600; ++i) {
    double v = 5.0;
    if (i == 330 || i == 331) {
      v = 5.5;
    }
    if (i >= 400 && i <= 420) {
      v = 7.0;
    }
    if (i >= 500) {
      v = 4.0;
    }
    s.Add(v, 1500000000.0 + 3600 * i);
  }
  return s;
}

// A random walk at irregular times starting before 1970, with outliers far beyond the bin
// clamp at rows 500, 900 and 1000.
inline TestSeries WalkSeries() {
  Lcg r(7);
  TestSeries s;
  int64_t t = -200000;
  double v = 0.0;
  for (int i = 0; i < 1200; ++i) {
    t += 30 + r.Next() % 900;
    v += static_cast<double>(r.Next() % 33 - 16) / 8;
    double x = (i == 500 || i == 900) ? 1.0e6 : i == 1000 ? -3.0e5 : v;
    s.Add(x, static_cast<double>(t));
  }
  return s;
}

// A steady upward trend with noise: new bins keep appearing.
inline TestSeries TrendSeries() {
  Lcg r(3);
  TestSeries s;
  for (int i = 0; i < 3000; ++i) {
    s.Add(1000 + i / 8.0 + static_cast<double>(r.Next() % 128) / 32, 1600000000.0 + 600 * i);
  }
  return s;
}

// Ratios of uniform integers: heavy tails on both sides.
inline TestSeries HeavyTailSeries() {
  Lcg r(11);
  TestSeries s;
  for (int i = 0; i < 3000; ++i) {
    int64_t a = r.Next() % 2001 - 1000;
    int64_t b = r.Next() % 1000 + 1;
    s.Add(static_cast<double>(a) / static_cast<double>(b), 1450000000.0 + 60 * i);
  }
  return s;
}

// A daily pattern (10-minute steps) whose phase shifts by half a day at row 1200.
inline TestSeries PhaseShiftSeries() {
  Lcg r(5);
  TestSeries s;
  for (int i = 0; i < 2500; ++i) {
    int shift = i < 1200 ? 0 : 72;
    double v = 10 + std::abs((i + shift) % 144 - 72) + static_cast<double>(r.Next() % 16) / 4;
    s.Add(v, 1700000000.0 + 600 * i);
  }
  return s;
}

// A steady downward trend with noise.
inline TestSeries DownwardSeries() {
  Lcg r(13);
  TestSeries s;
  for (int i = 0; i < 4000; ++i) {
    s.Add(-i / 4.0 + static_cast<double>(r.Next() % 256) / 16, 1300000000.0 + 300 * i);
  }
  return s;
}

// A random level every 150 rows, with noise.
inline TestSeries StepsSeries() {
  Lcg r(17);
  TestSeries s;
  double level = 0.0;
  for (int i = 0; i < 4000; ++i) {
    if (i % 150 == 0) {
      level = static_cast<double>(r.Next() % 4001) / 4 - 500;
    }
    s.Add(level + static_cast<double>(r.Next() % 64) / 8, 1550000000.0 + 120 * i);
  }
  return s;
}

// Event counts with a daily pattern and rare bursts.
inline TestSeries CountsSeries() {
  Lcg r(19);
  TestSeries s;
  for (int i = 0; i < 4000; ++i) {
    int64_t c = 20 + std::abs(i % 288 - 144) / 8 + r.Next() % 9;
    if (r.Next() % 97 == 0) {
      c += r.Next() % 400;
    }
    s.Add(static_cast<double>(c), 1420000000.0 + 300 * i);
  }
  return s;
}

// Daily: 1000 rows
inline const std::vector<ExpectedScore> kDailyScores = {
    {400, 0.7991967871485944}, {539, 0.171931696905016},  {700, 0.635036496350365},
    {850, 0.6285289747399703}, {950, 0.1798529973482306},
};
// Flat: 600 rows
inline const std::vector<ExpectedScore> kFlatScores = {
    {330, 0.7679814385150813},
    {500, 0.8336106489184693},
};
// Walk: 1200 rows
inline const std::vector<ExpectedScore> kWalkScores = {
    {265, 0.104177545691906},   {371, 0.12359270585570281}, {437, 0.6865203761755486},
    {568, 0.739921976592978},   {675, 0.16343910604994347}, {786, 0.17463229712688977},
    {891, 0.18365150534652241}, {1000, 0.9091734786557675}, {1126, 0.19978393702961994},
    {1196, 0.8568360773085183},
};
// Trend: 3000 rows
inline const std::vector<ExpectedScore> kTrendScores = {
    {250, 0.11566820276497695},  {290, 0.7442455242966751},   {394, 0.1324022346368715},
    {404, 0.5346534653465347},   {510, 0.045994599459945995}, {517, 0.5587918015102481},
    {622, 0.13796063908502418},  {638, 0.28822733423545327},  {742, 0.14779584909202534},
    {743, 0.2938388625592417},   {752, 0.5885111371629543},   {862, 0.15273898663275884},
    {867, 0.2988980716253443},   {966, 0.6041861918150578},   {1066, 0.15800979385559807},
    {1068, 0.30481893356144857}, {1105, 0.611387506909895},   {1210, 0.1650219121529984},
    {1245, 0.308568598315998},   {1293, 0.6188426590148255},  {1398, 0.3110962864131643},
    {1498, 0.11321511779333145}, {1507, 0.31260364842454397}, {1534, 0.4273245573885607},
    {1565, 0.6266506602641057},  {1666, 0.18400240160869408}, {1683, 0.3146487294469357},
    {1785, 0.31565924354895725}, {1874, 0.949367088607595},   {1978, 0.12462788136458637},
    {1996, 0.31743760928310283}, {2050, 0.45098194567371813}, {2149, 0.637037037037037},
    {2254, 0.1306449009706947},  {2276, 0.3193100546907867},  {2386, 0.07261940979616671},
    {2398, 0.39271367029180065}, {2506, 0.13535611992237898}, {2574, 0.6417445482866043},
    {2674, 0.14427401475046378}, {2698, 0.46605251584131585}, {2806, 0.1401921307855909},
    {2815, 0.3219021490626429},  {2949, 0.644808743169399},
};
// HeavyTail: 3000 rows
inline const std::vector<ExpectedScore> kHeavyTailScores = {
    {258, 0.1310065756196257},   {413, 0.6113103221744723},   {620, 0.22475570032573292},
    {787, 0.7731354687624038},   {938, 0.25262308313155774},  {1181, 0.8222410764818376},
    {1441, 0.03658041603247082}, {1515, 0.5959762093928975},  {1623, 0.08184786269982021},
    {1746, 0.08654692812412913}, {1889, 0.8642158098809539},  {1995, 0.04342906875543951},
    {2071, 0.5842116717176712},  {2185, 0.04567488508148767}, {2358, 0.09913847446942635},
    {2574, 0.8473720196740114},  {2706, 0.1655441084004091},  {2795, 0.8576695545521419},
    {2964, 0.05631528964862298},
};
// PhaseShift: 2500 rows
inline const std::vector<ExpectedScore> kPhaseShiftScores = {
    {347, 0.19051094890510947}, {1200, 0.2769408147578786}, {1307, 0.24402985074626868},
    {1584, 0.9406528189910978}, {2003, 0.2609375},
};
// Downward: 4000 rows
inline const std::vector<ExpectedScore> kDownwardScores = {
    {262, 0.5680345572354212},   {371, 0.1279816513761468},   {381, 0.6563573883161512},
    {491, 0.14424849344204183},  {516, 0.28663801517230647},  {588, 0.5472138100166893},
    {697, 0.25909428359317005},  {763, 0.5283540802213001},   {873, 0.27126008690254505},
    {973, 0.04934143870314083},  {995, 0.16776238479269437},  {1011, 0.27832783278327833},
    {1020, 0.5574665574665575},  {1131, 0.2832832832832833},  {1187, 0.4079848737813488},
    {1257, 0.5752171925011432},  {1361, 0.05766299745977985}, {1369, 0.5817409766454352},
    {1475, 0.18426996388141034}, {1492, 0.29395550305178186}, {1595, 0.18975213911262742},
    {1630, 0.593846713999636},   {1739, 0.19568063355076773}, {1774, 0.2995780590717299},
    {1883, 0.2010028837011675},  {1896, 0.30154188523287234}, {1997, 0.30300272975432213},
    {2099, 0.20167515673981193}, {2106, 0.30443577517699755}, {2210, 0.3056822895064289},
    {2315, 0.20424503878367137}, {2342, 0.6142351553283524},  {2452, 0.3082045483100892},
    {2555, 0.21236087743704357}, {2662, 0.3100477354756083},  {2719, 0.6210045662100457},
    {2819, 0.1387634200599671},  {2836, 0.31138184612007463}, {2939, 0.21759811911238816},
    {3059, 0.21993756686455077}, {3169, 0.3135509396636993},  {3275, 0.07005988023952095},
    {3315, 0.3143723928706864},  {3419, 0.225784740327299},   {3539, 0.22768275220634568},
    {3659, 0.07093023255813953}, {3689, 0.31619537275064263}, {3803, 0.14928878817181282},
    {3872, 0.3169653817824699},  {3995, 0.1573742883091976},
};
// Steps: 4000 rows
inline const std::vector<ExpectedScore> kStepsScores = {
    {300, 0.7506234413965087},   {450, 0.776601310469351},    {600, 0.8216684683850369},
    {734, 0.22063861117569558},  {750, 0.851559143837295},    {854, 0.22319611809425066},
    {900, 0.8728489191704453},   {1034, 0.23345919344390445}, {1050, 0.8887886505160192},
    {1154, 0.23889782302868276}, {1334, 0.24556730514264924}, {1350, 0.9110716532303993},
    {1454, 0.24925804844290853}, {1574, 0.25247922980923515}, {1650, 0.925909950558982},
    {1754, 0.2566097959070881},  {1800, 0.9316140632121254},  {1934, 0.2600788787242139},
    {1950, 0.9365021942027952},  {2054, 0.26209868787352514}, {2101, 0.6225685887536618},
    {2234, 0.08481973434535105}, {2250, 0.9444434899646282},  {2354, 0.2628820736821598},
    {2474, 0.26446533490011753}, {2550, 0.9506186449900618},  {2654, 0.26384757093325395},
    {2774, 0.2652206293055297},  {2850, 0.9555580286675891},  {2954, 0.2670950402475541},
    {3074, 0.2656143057581906},  {3150, 0.9595989303446578},  {3254, 0.26730168975820234},
    {3300, 0.9613557437545394},  {3434, 0.2688311434626049},  {3600, 0.27012001530730295},
    {3734, 0.09032648125755743}, {3750, 0.9658151137901686},  {3854, 0.2718980220834472},
    {3900, 0.9670813012832301},
};
// Counts: 4000 rows
inline const std::vector<ExpectedScore> kCountsScores = {
    {287, 0.7422680412371133},   {467, 0.6701908682634731},   {637, 0.6583282322217704},
    {777, 0.31026889232452204},  {919, 0.5316060192084783},   {1079, 0.146450989859971},
    {1322, 0.14946297681083},    {1495, 0.15866747286968755}, {2010, 0.17686895338610378},
    {2118, 0.6567952170946249},  {2413, 0.4264819645159485},  {2608, 0.19373294780421044},
    {2834, 0.1904254872712429},  {2969, 0.1855686829735874},  {3302, 0.19298560014481414},
    {3486, 0.18955539306703564}, {3586, 0.18817012660132146}, {3779, 0.3165829145728643},
    {3930, 0.06209129679355552}, {3939, 0.18849053097211999},
};

}  // namespace shadowfleet::testing
