% run_reference.m: the reference values of tests/fixtures/matlab_reference.json, under GNU Octave.
%
% Development-time only.  Put the authors' .m files (not part of this repository; their sources are listed in the
% fixture's "provenance") and the pairs written by make_pairs.py (in ./pairs) in the working directory, then
%   octave-cli run_reference.m        (needs the "image" package: imfilter, fspecial, imresize, mat2gray)
% It writes octave_values.json.  SSIM with automatic downsampling is ssim.m's downsampling block (f =
% max(1, round(min(M,N)/256)), imfilter(ones(f)/f^2, 'symmetric'), every f-th sample) followed by
% ssim_index.m, which is what Wang's ssim.m does; the luminance-based codes get double(rgb2gray(img)), as their
% demos call them.
pkg load image
names = {'tid_i01_awgn5','tid_i03_awgn1','i04_lsb','i04_box3','i03_tint','i01_vs_i03'};
fid = fopen('octave_values.json','w');
fprintf(fid, '{\n');
for k = 1:numel(names)
  a = imread(['pairs/' names{k} '_ref.png']); b = imread(['pairs/' names{k} '_dist.png']);
  ga = double(rgb2gray(a)); gb = double(rgb2gray(b));
  % ssim.m (Wang 2009): automatic downsampling, then the SSIM of ssim_index.m
  [M,N] = size(ga); f = max(1,round(min(M,N)/256));
  da = ga; db = gb;
  if f > 1
    lpf = ones(f,f); lpf = lpf/sum(lpf(:));
    da = imfilter(da,lpf,'symmetric','same'); db = imfilter(db,lpf,'symmetric','same');
    da = da(1:f:end,1:f:end); db = db(1:f:end,1:f:end);
  end
  s_ds = ssim_index(da, db);
  s_nd = ssim_index(ga, gb);
  ms = msssim(ga, gb);
  msw = msssim(ga, gb, [0.01 0.03], fspecial('gaussian', 11, 1.5), 5, [0.0448 0.2856 0.3001 0.2363 0.1333], 'wtd_sum');
  g = GMSD(ga, gb);
  [fs, fsc] = FeatureSIM(double(a), double(b));
  v = VSI(a, b);
  xa = double(a(:)); xb = double(b(:));
  p = 10*log10(255^2/mean((xa-xb).^2));
  nk = sum(xa.*xb)/sum(xa.^2);
  nae = sum(abs(xa-xb))/sum(abs(xa));
  sep = ','; if k == numel(names), sep = ''; end
  fprintf(fid, '  "%s": {"ssim": %.12g, "ssim_nodownsample": %.12g, "ms_ssim": %.12g, "ms_ssim_wtd": %.12g, "gmsd": %.12g, "fsim_grey": %.12g, "fsim": %.12g, "vsi": %.12g, "psnr": %.12g, "ncc": %.12g, "nae": %.12g}%s\n', names{k}, s_ds, s_nd, ms, msw, g, fs, fsc, v, p, nk, nae, sep);
  printf('%s done\n', names{k}); fflush(stdout);
end
fprintf(fid, '}\n'); fclose(fid);
